"""Conformance suites that every backend of an abstraction must pass.

Use them by subclassing in a test module and providing the fixture they need::

    from tane.testing.stores import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(...)
"""

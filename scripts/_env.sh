# Shared by scripts/test and scripts/check: a virtual environment with tane and its dev tools.
VENV="${TANE_VENV:-$PWD/.venv}"
PY="$VENV/bin/python"
ensure_venv() {
  if [ ! -x "$PY" ]; then
    echo "==> creating $VENV"
    python3 -m venv "$VENV"
    "$PY" -m pip install -q --upgrade pip
  fi
  local stamp="$VENV/.tane-dev-installed"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "==> installing tane with its dev dependencies into $VENV"
    # The CPU build of torch first (the gp sampler's extra): unpinned, pip takes a CUDA build.
    "$PY" -m pip install -q "torch==2.13.0"
    "$PY" -m pip install -q -e ".[dev]"
    touch "$stamp"
  fi
}

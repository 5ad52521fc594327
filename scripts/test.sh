#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests need, checks
# formatting and lints, then runs every test of the workspace.
#
#   scripts/test.sh            everything
#   scripts/test.sh <filter>   only tests matching <filter> (passed to cargo nextest)
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the build and the tests need.
packages=(build-essential pkg-config systemd libxml2-dev libxml2-utils libssl-dev python3 python3-pip curl
          postgresql rabbitmq-server
          chromium)  # the console's end-to-end test (tests/console.rs) drives it headless
# promtool (checks and unit-tests deploy/prometheus/alerts.yml, lints /metrics) comes with
# Debian's prometheus package (on a machine running systemd its server starts as well, on
# port 9090; the tests do not use it).
packages+=(prometheus)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Debian marks its Python as externally managed (PEP 668): plain `pip install` is refused
# there, so fall back to installing beside the system packages.
pip_install() {
    python3 -m pip install --quiet "$@" 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages "$@"
}

# Python tools the interoperability tests use (an independent JOSE implementation).
if ! python3 -c "import jwcrypto" 2>/dev/null; then
    echo "==> installing jwcrypto (PyPI)"
    pip_install jwcrypto
fi

# The second independent JOSE implementation: npm `jose` (panva), pinned by its lock file.
# Node may come from Debian or elsewhere (NodeSource bundles npm); install Debian's only if absent.
if ! command -v npm >/dev/null 2>&1; then
    echo "==> installing nodejs npm"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -d adapters/fit-connect/tests/interop-node/node_modules/jose ]; then
    echo "==> installing npm jose (npm ci)"
    (cd adapters/fit-connect/tests/interop-node && npm ci --no-audit --no-fund --silent)
fi

# The console's browser driver: npm playwright-core (pinned by its lock file), which drives the
# system's Chromium installed above — no browser download.
if [ ! -d tests/console/node_modules/playwright-core ]; then
    echo "==> installing npm playwright-core (npm ci)"
    (cd tests/console && npm ci --no-audit --no-fund --silent)
fi

# The S3-compatible server the payload store tests run against (scripts/services.sh starts it).
if ! python3 -c "import moto.server, boto3" 2>/dev/null; then
    echo "==> installing moto[server] (PyPI)"
    pip_install 'moto[server]'
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> services for the cluster-mode tests (PostgreSQL, RabbitMQ, S3 on loopback)"
eval "$(scripts/services.sh start)"
trap 'scripts/services.sh stop' EXIT

# The fuzz targets' short run is a test of the workspace (tests/fuzz.rs: each target's body on
# fuzz/corpus/ and 20,000 seeded mutations), not cargo-fuzz: installing cargo-fuzz and building
# the fuzz crate from scratch takes far longer than CI has (docs/RELIABILITY.md "Fuzzing");
# long libFuzzer campaigns are scripts/fuzz.sh.
echo "==> tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast "$@"
else
    cargo test --workspace --locked --no-fail-fast "$@"
fi

#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, only those missing.
# Run as root (or with sudo available). Safe to run again.
set -euo pipefail

packages=(
    gcc make pkg-config libc6-dev             # toolchain
    libyaml-dev                               # config
    libgoogle-perftools-dev                   # CPU profiler, tcmalloc
    libcivetweb-dev                           # HTTP server
    golang-github-google-pprof-dev            # google/pprof's Go sources: the tests' profile parsers, pprof with TLS
    zlib1g-dev libdw-dev                      # gzip, symbols
    libdebuginfod-dev debuginfod xz-utils     # takhin-profiler -symbolize (libdebuginfod, dlopen'd);
                                              # a local server and MiniDebugInfo for the tests
    libcurl4-openssl-dev                      # takhin-profiler's HTTP(S) client
    libssl-dev openssl                        # TLS on the profiler port (plugin/core/tls.c); test certificates
    libcmocka-dev                             # unit tests
    libjansson-dev                            # takhin-profiler watch: the webhook's JSON, the index
    golang-go curl                            # real clients for the tests
    kcat librdkafka-dev                       # Kafka clients: the tests' kcat, takhin-kload
    python3 iproute2                          # test helpers (slow clients, proxies, receivers); ss
    golang-github-prometheus-common-dev       # checks /metrics with the Prometheus parser
    prometheus                                # promtool's lint, and a real server scraping /metrics
                                              # (with systemd it also starts its own on :9090;
                                              # the tests run theirs on a free port)
    prometheus-alertmanager                   # watch's end-to-end test: real alerts to the webhook
    chromium fonts-dejavu-core                # looks at pages in tests
)

# Packages only the robustness and speed targets need (not make test):
#   scripts/deps.sh --extra fuzz|valgrind|bench   installs that group instead.
if [ "${1:-}" = --extra ]; then
    case ${2:-} in
        fuzz) packages=(clang libclang-rt-14-dev) ;;       # make fuzz: clang-14's libFuzzer
        valgrind) packages=(valgrind) ;;                   # make valgrind
        bench) packages=(wrk golang-go) ;;                 # make bench: load generator, Go baseline
        *) echo "usage: scripts/deps.sh [--extra fuzz|valgrind|bench]" >&2; exit 2 ;;
    esac
fi

# npm (and nodejs) install s3rver, the S3-compatible server of watch's S3
# test; a nodejs from elsewhere that has npm already is fine.
if [ "${1:-}" != --extra ] && ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

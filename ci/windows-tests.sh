#!/usr/bin/env bash
# Runs the whole test suite (unit, integration and doc tests) and the demo example as Windows
# binaries (x86_64-pc-windows-gnu) under Wine. Usage: bash ci/windows-tests.sh
#
# Exit status: 0 when the suite passed, or when the Windows toolchain could not be installed
# (then one loud SKIPPED line says why); non-zero when a Windows test failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

target=x86_64-pc-windows-gnu
skip() {
    echo "!!!!!! WINDOWS TEST RUN SKIPPED: $* !!!!!!"
    exit 0
}

# 1. The target's standard library, the MinGW linker and Wine.
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    rustup target add "$target" || skip "rustup could not install the $target target (no network?)"
fi
if ! command -v x86_64-w64-mingw32-gcc >/dev/null || ! { [ -x /usr/lib/wine/wine64 ] || command -v wine >/dev/null; }; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq gcc-mingw-w64-x86-64 wine >/dev/null; } ||
        skip "apt-get could not install gcc-mingw-w64-x86-64 and wine (no network?)"
fi
# Debian's `wine` launcher may not find the 64-bit loader; wine64 itself works.
if [ -x /usr/lib/wine/wine64 ]; then wine=/usr/lib/wine/wine64; else wine=$(command -v wine); fi

# 2. A private prefix with the bcryptprimitives.dll stub that Rust's std needs on Wine 8.0.
export WINEDEBUG=-all
export WINEPREFIX="$PWD/target/wine-prefix"
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    echo "== creating the Wine prefix in $WINEPREFIX"
    "$wine" wineboot --init >/dev/null 2>&1 || true
    "$wine" wineserver -w >/dev/null 2>&1 || wineserver -w >/dev/null 2>&1 || true
fi
mkdir -p target/wine-stub
x86_64-w64-mingw32-gcc -O2 -shared -o target/wine-stub/bcryptprimitives.dll \
    ci/wine/bcryptprimitives.c ci/wine/bcryptprimitives.def
cp target/wine-stub/bcryptprimitives.dll "$WINEPREFIX/drive_c/windows/system32/"

# 3. Build for Windows and run everything under Wine.
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$wine"
started=$(date +%s)
echo "== cargo test --target $target (under Wine)"
cargo test --target "$target"
echo "== the examples that need nothing installed, under Wine"
cargo run --example demo --target "$target"
cargo run --example file_like --target "$target"
cargo run --example progress --target "$target"
bash ci/parallel.sh --target "$target"
echo "== the Windows stage took $(( $(date +%s) - started )) s"

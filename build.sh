#!/usr/bin/env bash
# exec-bridge build entry point (./build.sh --help, ./build.sh help COMMAND).
#   ./build.sh deps       install the toolchains (apt) and a .venv with the Python packages
#   ./build.sh            compile every src/<function>/ into a static bin/<function> (C, Crystal, Go, Rust,
#                         Nim, or a bootstrap script), and copy prebuilt/<function> there, checked
#   ./build.sh test       build, then run the test suite (ruff + mypy + pytest)
#   ./build.sh bench      build, then run the benchmarks: in-process (bench/run.py), then end to end under
#                         awslambdaric on the packaged zip (bench/end_to_end.py), then memory in the box
#                         (bench/box.py, with podman); prints Markdown tables
#   ./build.sh package    build for serverless.yml's architecture, write dist/exec-bridge.zip
#   ./build.sh layer      write dist/exec-bridge-layer.zip: the bridge as a Lambda layer (python/)
#   ./build.sh bundle PROGRAM [NAME] [--with DIR[:DEST]]... [--env NAME=VALUE]...
#                         make bin/NAME a self-contained bundle of a dynamically linked program: its shared
#                         libraries (and, when they need a glibc newer than Lambda's 2.34, its own glibc and
#                         loader) in bin/NAME.bundle/; --with copies data or plugin directories in, --env
#                         points the program at them (paths relative to the bundle). See README.
#   ./build.sh image [lambda|debian] [PACKAGES...]
#                         build the function as a container image with podman: localhost/exec-bridge:latest on
#                         AWS's Lambda Python base (Dockerfile), or localhost/exec-bridge:debian on a Debian
#                         base with awslambdaric as its entry point (Dockerfile.debian); PACKAGES are Debian
#                         packages installed into it. A base that cannot be pulled is stood in for by one
#                         made with debootstrap (said so). Installs podman, runc and debootstrap if missing.
#   ./build.sh mutate [MODULE...]
#                         mutation testing (mutmut) of bridge modules against the tests that exercise them:
#                         codec, http, cgi, batch, runtime_server, ... (scripts/mutate.py); default: the
#                         modules the uncommitted change and the last commit touched. Lists the survivors.
#   ./build.sh check F... the checks every binary passes before it is packed (a directory: all under it)
# Environment: ARCH=x86_64|aarch64 (default: this machine), PYTHON (default: .venv's, else python3),
#   FUNCTIONS="a b" builds only those src/ functions, PREBUILT (default: prebuilt) the folder of prebuilt ones
#   (a dynamically linked one is bundled), BIN (default: bin) where binaries go; for image, IMAGE_TAG (its
#   name) and IMAGE_CONTEXT (default: .build/image, its build context).
set -euo pipefail
cd "$(dirname "$0")"

if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
APT_PACKAGES="musl-tools crystal golang-go nim librust-serde-json-dev python3-venv gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static libcgi-pm-perl curl unzip zlib1g-dev patchelf bubblewrap jq sqlite3 pandoc imagemagick podman runc catatonit debootstrap"
ARCH=${ARCH:-$(uname -m)}
BIN=${BIN:-bin}
PREBUILT=${PREBUILT:-prebuilt}

die() { echo "build.sh: $*" >&2; exit 1; }

# True when $1 exists and is newer than every file under $2 (skip rebuilding it).
up_to_date() {
    [ -e "$1" ] || return 1
    [ -z "$(find "$2" -type f -newer "$1" -print -quit)" ]
}

# Refuse an ELF file that could not run on Lambda: wrong architecture, a glibc too new, a library it needs
# missing from its bundle (scripts/check_elf.py says which and how to fix it). $1 may be a directory.
check_binary() {
    "$PYTHON" -c 'import elftools' 2>/dev/null || die "the checks need pyelftools: run ./build.sh deps (or set PYTHON)"
    "$PYTHON" scripts/check_elf.py --arch "$ARCH" "$@" || die "$* cannot run on Lambda (see above)"
}

build_c() {
    local src=$1 out=$2
    if [ "$ARCH" = "$(uname -m)" ] && command -v musl-gcc >/dev/null; then
        musl-gcc -static -O2 -o "$out" "$src"/*.c
    elif [ "$ARCH" = "$(uname -m)" ]; then
        echo "build.sh: musl-gcc not found (apt-get install musl-tools); using gcc -static" >&2
        gcc -static -O2 -o "$out" "$src"/*.c
    else
        command -v "$ARCH-linux-gnu-gcc" >/dev/null ||
            die "no C cross compiler for $ARCH (apt-get install gcc-${ARCH/_/-}-linux-gnu)"
        "$ARCH-linux-gnu-gcc" -static -O2 -o "$out" "$src"/*.c
    fi
}

build_crystal() {
    local src=$1 out=$2 main
    [ "$ARCH" = "$(uname -m)" ] || die "Crystal cannot cross-compile a static binary for $ARCH here: build $src on an $ARCH machine"
    command -v crystal >/dev/null || die "crystal not found (apt-get install crystal)"
    main=$(ls "$src"/*.cr | head -n 1)
    # The static glibc link warns about getaddrinfo & co.; those warnings are expected and harmless here.
    crystal build --static --release --no-debug -o "$out" "$main" 2> >(grep -v -e 'statically linked applications requires' -e ': in function' >&2)
}

build_go() {
    local src=$1 out=$2 goarch
    command -v go >/dev/null || die "go not found (apt-get install golang-go)"
    case "$ARCH" in x86_64) goarch=amd64 ;; aarch64) goarch=arm64 ;; esac
    case "$out" in /*) ;; *) out=$PWD/$out ;; esac
    (cd "$src" && CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOCACHE=${GOCACHE:-/tmp/exec-bridge-gocache} \
        go build -trimpath -ldflags='-s -w' -o "$out" .)
}

build_rust() {
    local src=$1 out=$2 name target
    [ "$ARCH" = "$(uname -m)" ] ||
        die "Rust cannot build $src for $ARCH here (no $ARCH standard library can be installed): build it on an $ARCH machine"
    command -v cargo >/dev/null || PATH=$HOME/.cargo/bin:$PATH  # rustup's, when the shell was not told
    command -v cargo >/dev/null || die "cargo not found (apt-get install cargo, or rustup)"
    [ -d /usr/share/cargo/registry ] || die "no Debian crate registry (apt-get install librust-serde-json-dev)"
    name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$src/Cargo.toml" | head -n 1)
    target=$ARCH-unknown-linux-gnu
    # Offline, crates from Debian's registry; glibc linked statically (no musl standard library here).
    (cd "$src" && CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/exec-bridge-cargo} RUSTFLAGS='-C target-feature=+crt-static' \
        cargo build --quiet --release --offline --target "$target" \
        --config 'source.crates-io.replace-with="debian"' --config 'source.debian.directory="/usr/share/cargo/registry"')
    cp "${CARGO_TARGET_DIR:-/tmp/exec-bridge-cargo}/$target/release/$name" "$out"
}

build_nim() {
    local src=$1 out=$2 main cc
    command -v nim >/dev/null || die "nim not found (apt-get install nim)"
    main=$(ls "$src"/*.nim | head -n 1)
    if [ "$ARCH" = "$(uname -m)" ]; then
        cc=$(command -v musl-gcc || echo gcc)
        nim c --hints:off -d:release --cpu:amd64 --gcc.exe:"$cc" --gcc.linkerexe:"$cc" --passL:-static \
            --nimcache:"/tmp/exec-bridge-nimcache/$(basename "$src")" -o:"$out" "$main" >/dev/null
    else
        command -v "$ARCH-linux-gnu-gcc" >/dev/null || die "no C cross compiler for $ARCH (apt-get install gcc-${ARCH/_/-}-linux-gnu)"
        nim c --hints:off -d:release --cpu:arm64 --os:linux --gcc.exe:"$ARCH-linux-gnu-gcc" \
            --gcc.linkerexe:"$ARCH-linux-gnu-gcc" --passL:-static \
            --nimcache:"/tmp/exec-bridge-nimcache/$(basename "$src")-$ARCH" -o:"$out" "$main" >/dev/null
    fi
}

build_all() {
    mkdir -p "$BIN"
    local src name out
    for src in src/*/; do
        src=${src%/}
        name=$(basename "$src")
        if [ -n "${FUNCTIONS:-}" ] && [[ " $FUNCTIONS " != *" $name "* ]]; then continue; fi
        out=$BIN/$name
        if up_to_date "$out" "$src" && [ "$(cat "$BIN/.arch" 2>/dev/null)" = "$ARCH" ]; then
            continue
        fi
        if compgen -G "$src/*.c" >/dev/null; then build_c "$src" "$out"
        elif compgen -G "$src/*.cr" >/dev/null; then build_crystal "$src" "$out"
        elif compgen -G "$src/*.go" >/dev/null; then build_go "$src" "$out"
        elif [ -f "$src/Cargo.toml" ]; then build_rust "$src" "$out"
        elif compgen -G "$src/*.nim" >/dev/null; then build_nim "$src" "$out"
        elif [ -f "$src/bootstrap" ]; then install -m 0755 "$src/bootstrap" "$out"; echo "built $out (script)"; continue
        else die "$src holds no C, Crystal, Go, Rust (Cargo.toml) or Nim sources and no bootstrap script"
        fi
        check_binary "$out"
        chmod 0755 "$out"
        echo "built $out ($(stat -c %s "$out") bytes, $ARCH)"
    done
    prebuilt
    echo "$ARCH" > "$BIN/.arch"
}

# prebuilt/<fn>: a binary built elsewhere (or a script), copied to bin/<fn> and checked like a built one; a
# dynamically linked one is bundled with its libraries (bin/<fn>.bundle/), as ./build.sh bundle does.
prebuilt() {
    local file name
    [ -d "$PREBUILT" ] || return 0
    for file in "$PREBUILT"/*; do
        [ -f "$file" ] || continue
        name=$(basename "$file")
        case "$name" in README*|.*) continue ;; esac
        if head -c 2 "$file" | grep -q '^#!'; then
            install -m 0755 "$file" "$BIN/$name"; echo "copied $BIN/$name (script)"; continue
        fi
        if readelf -lW "$file" 2>/dev/null | grep -q 'Requesting program interpreter'; then
            bundle "$file" "$name"
            continue
        fi
        install -m 0755 "$file" "$BIN/$name"
        check_binary "$BIN/$name"
        echo "copied $BIN/$name ($(stat -c %s "$file") bytes, checked for $ARCH)"
    done
}

# ./build.sh bundle PROGRAM [NAME] [options]: scripts/bundle.py, then the checks on what it wrote.
bundle() {
    local program=${1:?usage: ./build.sh bundle PROGRAM [NAME] [--with DIR[:DEST]]... [--env NAME=VALUE]...} name
    shift
    name=$(basename "$program")
    if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then name=$1; shift; fi
    command -v patchelf >/dev/null || die "bundle needs patchelf (apt-get install patchelf, or ./build.sh deps)"
    mkdir -p "$BIN"
    "$PYTHON" scripts/bundle.py "$program" --name "$name" --bin "$BIN" --arch "$ARCH" "$@"
    check_binary "$BIN/$name" "$BIN/$name.bundle"
}

deps() {
    local sudo="" missing=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    for pkg in $APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $pkg"
    done
    command -v npm >/dev/null || missing="$missing nodejs npm"  # keep a Node.js that is not Debian's
    if [ -n "$missing" ]; then
        echo "build.sh deps: apt: installing$missing (a few minutes on a fresh machine)" >&2
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
    else
        echo "build.sh deps: apt: the toolchains are installed" >&2
    fi
    node_check
    echo "build.sh deps: .venv: $(grep -cv '^ *#\|^-r' requirements-dev.txt) test and build packages (requirements-dev.txt)" >&2
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
    echo "build.sh deps: npm: osls and serverless-offline (package.json)" >&2
    npm install --no-audit --no-fund --legacy-peer-deps --loglevel=error
    echo "build.sh deps: .venv-lambda: awslambdaric under the runtime's Python, for the end-to-end benchmark" >&2
    lambda_venv
    echo "build.sh deps: done" >&2
}

# osls 4.3.1 runs only on Node ^20.19, ^22.13 or >= 24; Debian 12's own nodejs is 18.
node_check() {
    local version major minor
    version=$(node --version 2>/dev/null | tr -d v)
    major=${version%%.*}; minor=$(echo "$version" | cut -d. -f2)
    if [ -z "$version" ] || [ "$major" -lt 20 ] || { [ "$major" = 20 ] && [ "$minor" -lt 19 ]; } ||
       { [ "$major" = 22 ] && [ "$minor" -lt 13 ]; } || [ "$major" = 21 ] || [ "$major" = 23 ]; then
        die "Node.js ${version:-(none)} is here, but the deployment tools (osls 4.3.1) need ^20.19, ^22.13 or >= 24: install one (NodeSource's nodejs package, or the official tarball), put it first on PATH, and run ./build.sh deps again"
    fi
    echo "build.sh deps: Node.js $version (osls needs ^20.19, ^22.13 or >= 24): fine" >&2
}

# .venv-lambda: the runtime's Python version (serverless.yml) with awslambdaric, for the end-to-end benchmark.
lambda_venv() {
    local runtime target pin
    runtime=$(.venv/bin/python -c 'import sys; sys.path.insert(0, "scripts"); import package; print(package.service_settings(__import__("pathlib").Path("serverless.yml"))[0])')
    target=$(.venv/bin/python -c "import sys; sys.path.insert(0, 'scripts'); import package; print(package.target_python('$runtime') or '')")
    if [ -z "$target" ]; then
        echo "build.sh: no $runtime interpreter (PATH or pyenv): the end-to-end benchmark will use .venv's Python" >&2
        return 0
    fi
    pin=$(grep -i '^awslambdaric' requirements-dev.txt)
    [ -x .venv-lambda/bin/python ] || "$target" -m venv .venv-lambda
    .venv-lambda/bin/python -m pip install -q --disable-pip-version-check "$pin"
}

package() {
    local arch
    arch=$("$PYTHON" -c 'import sys; sys.path.insert(0, "scripts"); import package; print(package.service_settings(__import__("pathlib").Path("serverless.yml"))[1])')
    case "$arch" in
        x86_64) ARCH=x86_64 ;;
        arm64) ARCH=aarch64 ;;
        *) die "serverless.yml: provider.architecture '$arch' is not x86_64 or arm64" ;;
    esac
    [ "$ARCH" = "$(uname -m)" ] || BIN=.build/bin-$ARCH
    build_all
    # Everything that goes in passes the checks, whoever put it there.
    (check_binary "$BIN") || die "$BIN holds files that cannot run on Lambda (above): they cannot go into the package. Bundle them (./build.sh bundle), rebuild them statically (README: Writing a function), or remove them from $BIN"
    "$PYTHON" scripts/package.py --bin "$BIN" --out "${1:-dist/exec-bridge.zip}" ${2:+--runtime "$2"}
}

# Containers: podman with runc (crun refuses these machines' hybrid cgroups) and no default ulimits (no
# CAP_SYS_RESOURCE here); a registry that cannot be reached is replaced by bases made with debootstrap.
LAMBDA_BASE=public.ecr.aws/lambda/python:3.12
STANDIN_BASE=localhost/lambda-python-standin:latest
DEBIAN_BASE=localhost/exec-bridge-debian:bookworm
podman_setup() {
    local missing="" pkg
    for pkg in podman runc catatonit debootstrap; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $pkg"
    done
    if [ -n "$missing" ]; then
        echo "build.sh: installing$missing (apt)" >&2
        local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
    fi
    mkdir -p .build
    printf '[containers]\ndefault_ulimits = []\n' > .build/containers.conf
    export CONTAINERS_CONF=$PWD/.build/containers.conf
    PODMAN="podman --runtime runc"
}

# A Debian 12 root (debootstrap, ~40 s, once) imported as $DEBIAN_BASE.
debian_base() {
    $PODMAN image exists "$DEBIAN_BASE" && return 0
    echo "build.sh: making $DEBIAN_BASE with debootstrap (Debian 12 with python3, about a minute, once)" >&2
    rm -rf .build/debian-root
    debootstrap --variant=minbase --include=python3,ca-certificates bookworm .build/debian-root http://deb.debian.org/debian >/dev/null ||
        die "debootstrap failed (it needs Debian's package mirror)"
    tar -C .build/debian-root -c . | $PODMAN import -q - "$DEBIAN_BASE" >/dev/null
    rm -rf .build/debian-root
}

# awslambdaric and what it needs, unpacked from their wheels for $1 (pythonX.Y) into $2.
runtime_client() {
    local version=${1#python} pin
    pin=$(grep -i '^awslambdaric' requirements-dev.txt)
    rm -rf "$2" .build/ric-wheels && mkdir -p "$2" .build/ric-wheels
    "$PYTHON" -m pip download -q --disable-pip-version-check --only-binary=:all: --platform "manylinux2014_$ARCH" \
        --python-version "$version" --implementation cp --abi "cp${version/./}" --dest .build/ric-wheels "$pin" 2>/dev/null
    for wheel in .build/ric-wheels/*.whl; do "$PYTHON" -m zipfile -e "$wheel" "$2"; done
}

# The Lambda base: AWS's, or a stand-in (deploy/lambda-standin.Containerfile) when it cannot be pulled.
lambda_base() {
    if $PODMAN image exists "$LAMBDA_BASE" || timeout 60 $PODMAN pull -q "$LAMBDA_BASE" >/dev/null 2>&1; then
        echo "$LAMBDA_BASE"; return 0
    fi
    echo "build.sh: $LAMBDA_BASE cannot be pulled here (no registry): using $STANDIN_BASE, a stand-in made with debootstrap (Debian's Python 3.11, not the runtime's)" >&2
    if ! $PODMAN image exists "$STANDIN_BASE"; then
        debian_base
        rm -rf .build/standin && mkdir -p .build/standin
        runtime_client python3.11 .build/standin/ric
        $PODMAN build -q -f deploy/lambda-standin.Containerfile --build-arg BASE="$DEBIAN_BASE" -t "$STANDIN_BASE" .build/standin >/dev/null
    fi
    echo "$STANDIN_BASE"
}

# ./build.sh image [lambda|debian] [PACKAGES...]
image() {
    local variant=${1:-lambda} base tag dockerfile python context=${IMAGE_CONTEXT:-.build/image}
    [ $# -gt 0 ] && shift
    podman_setup
    case "$variant" in
        lambda) base=$(lambda_base); tag=${IMAGE_TAG:-localhost/exec-bridge:latest}; dockerfile=Dockerfile ;;
        debian) debian_base; base=$DEBIAN_BASE; tag=${IMAGE_TAG:-localhost/exec-bridge:debian}; dockerfile=Dockerfile.debian
                echo "build.sh: on $DEBIAN_BASE (Debian 12, made with debootstrap); --build-arg BASE= in Dockerfile.debian takes any other" >&2 ;;
        *) die "image: '$variant' is neither lambda nor debian" ;;
    esac
    python=$($PODMAN run --rm --entrypoint python3 "$base" -c 'import sys; print("python%d.%d" % sys.version_info[:2])')
    rm -rf "$context" && mkdir -p "$context"
    package "$context/function.zip" "$python" >&2
    unzip -q "$context/function.zip" -d "$context/task"
    [ "$variant" = debian ] && runtime_client "$python" "$context/ric"
    $PODMAN build -q --network host -f "$dockerfile" --build-arg BASE="$base" --build-arg PACKAGES="$*" -t "$tag" "$context" >/dev/null
    echo "built $tag ($dockerfile on $base, for $python$([ $# -gt 0 ] && echo ", with $*"))"
}

# dist/exec-bridge-layer.zip: the bridge as a Lambda layer (python/), for functions whose zip holds only bin/.
layer() {
    "$PYTHON" scripts/package.py --layer --out dist/exec-bridge-layer.zip
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

case "${1:-build}" in
    -h|--help)
        usage ;;
    help)
        if [ -z "${2:-}" ]; then usage
        else
            cmd=$2; [ "$cmd" = build ] && cmd=""  # ./build.sh with no command builds
            usage | awk -v cmd="$cmd" '$0 ~ "^  \\./build.sh " cmd "( |$)" {show=1; print; next} show && /^   / {print; next} {show=0}' | grep . ||
                die "unknown command '$2' (deps, build, test, bench, package, layer, bundle, image, mutate, check)"
        fi ;;
    deps)
        deps ;;
    build)
        build_all ;;
    test)
        build_all
        "$PYTHON" -m ruff check .
        "$PYTHON" -m mypy  # the seams declared in bridge/types.py hold (settings in pyproject.toml)
        "$PYTHON" -m pytest -q tests "${@:2}" ;;
    bench)
        build_all
        "$PYTHON" bench/run.py "${@:2}"
        echo
        package >/dev/null
        "$PYTHON" bench/end_to_end.py
        echo
        "$PYTHON" bench/box.py ;;
    package)
        package ;;
    layer)
        layer ;;
    check)
        check_binary "${@:2}"; echo "${*:2}: loadable on Lambda ($ARCH)" ;;
    bundle)
        bundle "${@:2}" ;;
    image)
        image "${@:2}" ;;
    mutate)
        build_all
        "$PYTHON" scripts/mutate.py "${@:2}" ;;
    *)
        die "unknown command '$1' (deps, build, test, bench, package, layer, bundle, image, mutate, check; ./build.sh --help)" ;;
esac

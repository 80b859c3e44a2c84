# The suite on Debian 12, built with the same install step as the README and CI.
#   docker build -t malloc-suite .
#   docker run --rm -v "$PWD:/work" -w /work malloc-suite malloc-record -o app.trace.zst ./app
FROM debian:bookworm
COPY . /src
WORKDIR /src
RUN sh scripts/install-deps.sh \
 && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build -j"$(nproc)" \
 && cmake --install build \
 && rm -rf /var/lib/apt/lists/*
CMD ["malloc-trace", "--help"]

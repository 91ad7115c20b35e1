# hbone: multi-stage Debian 12 build; the runtime image holds only the binary, the shared
# libraries it loads (as resolved by ldd in the build stage, copied under /usr: Debian 12's
# /lib is a symlink to usr/lib, which a copied /lib directory would replace) and the
# example configs. scripts/image.sh builds it with buildah.
FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libnghttp2-dev libuv1-dev libyaml-cpp-dev android-libboringssl-dev \
      libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev \
      prometheus-cpp-dev libhttp-parser-dev libgoogle-perftools-dev libprotobuf-dev protobuf-compiler \
      libsystemd-dev \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmd cmd
COPY lib lib
COPY proto proto
# OFF: glibc's allocator, ~4.6 MiB less memory per process, no heap profiles (README).
ARG HBONE_TCMALLOC=ON
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DHBONE_TESTS=OFF -DHBONE_TCMALLOC=${HBONE_TCMALLOC} \
 && cmake --build build -j"$(nproc)" --target hbone \
 && strip build/hbone \
 && mkdir -p /out/usr/local/bin \
 && cp build/hbone /out/usr/local/bin/ \
 && ldd build/hbone | awk '$2 == "=>" && $3 ~ /^\// {print $3}' \
      | while read -r lib; do \
          dest="/out/usr${lib#/usr}"; mkdir -p "$(dirname "$dest")" && cp -L "$lib" "$dest"; \
        done

FROM debian:12-slim
# iptables for the sidecar's init container (hbone-capture: scripts/capture.sh).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /
COPY config/ /etc/hbone/
COPY scripts/capture.sh /usr/local/bin/hbone-capture
# Mount certificates at /etc/hbone/certs/dev (the configs' relative paths) or point
# tls.* at your own files.
WORKDIR /etc/hbone
USER 65532:65532
EXPOSE 15008 15020
ENTRYPOINT ["/usr/local/bin/hbone"]
CMD ["--config", "/etc/hbone/gateway.yaml"]

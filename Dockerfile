# exec-bridge as a container image on AWS's Lambda Python base: ./build.sh image (README: Container images).
# The build context is what ./build.sh image lays out: task/, the deployment package unzipped (handler.py,
# bridge/ with the bytecode of the base's Python, bin/ as ./build.sh package checked it, orjson, httptools).
ARG BASE=public.ecr.aws/lambda/python:3.12
FROM ${BASE}

# A legacy program from the OS's own packages, with its data: --build-arg PACKAGES="ImageMagick" (dnf, on
# Amazon Linux 2023) or "imagemagick" (apt-get, on a Debian base). It runs with the image's own libraries.
ARG PACKAGES=""
RUN if [ -n "$PACKAGES" ]; then \
        if command -v dnf >/dev/null; then dnf install -y $PACKAGES && dnf clean all; \
        else apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES \
             && rm -rf /var/lib/apt/lists/*; fi; \
    fi

COPY task/ ${LAMBDA_TASK_ROOT}/
CMD ["handler.handler"]

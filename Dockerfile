# The one fleetgate image: `fleetgate serve` (the gateway), `fleetgate agent` (a Pull member's
# agent) and `fleetgate init seed-ca` (the gateway pod's init container) are its commands.
# Not built by any test here (no container runtime on the build machines).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=v0.1.0-dev
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
	-ldflags "-s -w -X github.com/fleetgate/fleetgate/cmd/fleetgate/app.Version=${VERSION}" \
	-o /out/fleetgate ./cmd/fleetgate

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/fleetgate /usr/local/bin/fleetgate
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/fleetgate"]

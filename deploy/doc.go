// Package deploy holds no code: its tests validate the deployment files without a container engine or
// a cluster.
//
//   - ../Dockerfile is parsed with BuildKit's Dockerfile parser: its stages, where every COPY source
//     comes from (the build context, filtered by ../.dockerignore, or what an earlier stage builds),
//     the user, port, health check and entrypoint of the final image, and the image layout the serve
//     command and its manifest rely on.
//   - ../docker-compose.yml is loaded with compose-go: the services, the daprd sidecar's flags against
//     the host's own defaults (the app port, protocol and Dapr HTTP port), the published ports, the bind
//     mounts and the Dapr components in compose/components.
//   - kubernetes/ is decoded with the Kubernetes API types: the Dapr annotations, ports, probes,
//     resources and security context of the Deployment, the Service, the ConfigMap holding the serve
//     manifest (parsed with the host's manifest package and compared with the sample's) and the Dapr
//     components.
//
// Run them with `go test ./deploy/`. See README.md for how to use the files.
package deploy

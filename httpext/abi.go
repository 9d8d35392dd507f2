// Package httpext is the wasi_experimental_http host API: outbound HTTP for WASI guests, compatible with
// the deislabs extension (WITX v0.10) so guests built for it, WAGI or early Spin run unmodified. Every
// destination is checked against the allow-list when the request is made, on every redirect and again
// when the connection is dialed.
package httpext

// ModuleName is the import module guests use.
const ModuleName = "wasi_experimental_http"

// Error codes returned to the guest (see shared/abi/wasi-experimental-http.md).
const (
	Success               int32 = 0
	InvalidHandle         int32 = 1
	MemoryNotFound        int32 = 2
	MemoryAccessError     int32 = 3
	BufferTooSmall        int32 = 4
	HeaderNotFound        int32 = 5
	UTF8Error             int32 = 6
	DestinationNotAllowed int32 = 7
	InvalidMethod         int32 = 8
	InvalidEncoding       int32 = 9
	InvalidURL            int32 = 10
	RequestError          int32 = 11
	RuntimeError          int32 = 12
	TooManySessions       int32 = 13
)

var codeNames = [...]string{"success", "invalid_handle", "memory_not_found", "memory_access_error",
	"buffer_too_small", "header_not_found", "utf8_error", "destination_not_allowed", "invalid_method",
	"invalid_encoding", "invalid_url", "request_error", "runtime_error", "too_many_sessions"}

// CodeName names an error code for logs.
func CodeName(code int32) string {
	if code >= 0 && int(code) < len(codeNames) {
		return codeNames[code]
	}
	return "unknown"
}

// A raw HTTP probe over wasi_experimental_http, for trying a host's outbound
// HTTP (allow-list, error codes) without Dapr:
//
//   wasi-dapr-host run build/probe.wasm -- METHOD URL [BODY]
//
// stdout: "status: N", "content-type: V" (via header_get), "headers: N" (via
// headers_get_all), "body-bytes: N", then the body.
// On failure: "probe: FAILED: <error>" on stderr (the ABI code and its name
// for host errors) and exit status 1.

import { Request, Response, utf8 } from "./dapr";

function probe(): string | null {
  const argv = process.argv;
  if (argv.length < 3) return "usage: probe METHOD URL [BODY]";
  const req = new Request(argv[1], argv[2]);
  if (argv.length > 3) req.setHeader("content-type", "text/plain").setBodyText(argv[3]);

  const sent = req.send();
  if (!sent.ok) return sent.error!.message;
  const res: Response = sent.value;

  const contentType = res.getHeader("content-type");
  if (!contentType.ok) {
    res.close();
    return contentType.error!.message;
  }
  const headers = res.getHeaders();
  if (!headers.ok) {
    res.close();
    return headers.error!.message;
  }
  const body = res.readBody();
  res.close();
  if (!body.ok) return body.error!.message;

  const ct = contentType.value;
  console.log("status: " + res.status.toString());
  console.log("content-type: " + (ct !== null ? ct : "(none)"));
  console.log("headers: " + headers.value.length.toString());
  console.log("body-bytes: " + body.value.byteLength.toString());
  console.log(utf8(body.value));
  return null;
}

function main(): void {
  const reason = probe();
  if (reason !== null) {
    process.stderr.write("probe: FAILED: " + reason + "\n");
    process.exit(1);
  }
}

main();

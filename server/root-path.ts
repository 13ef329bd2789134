// vLLM's --root-path, for a proxy that forwards "/prefix/v1/..." unchanged: the prefix is cut
// before routing, and paths without it are served as well, as Starlette routes under root_path.
import type { IncomingMessage } from "node:http";

export function rootPathRewriter(rootPath: string): (request: IncomingMessage) => string {
  const prefix = rootPath.replace(/\/+$/, "");
  return (request) => {
    const url = request.url ?? "/";
    if (prefix === "" || !url.startsWith(prefix)) return url;
    const rest = url.slice(prefix.length);
    if (rest === "" || rest.startsWith("?")) return `/${rest}`;
    // "/prefixed-name" is not under "/prefix".
    return rest.startsWith("/") ? rest : url;
  };
}

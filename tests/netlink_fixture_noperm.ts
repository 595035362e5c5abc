/**
 * Run by `netlink_routes_test.ts` without CAP_NET_ADMIN: tries to add a route inside the
 * namespace given as argument and prints the outcome as JSON.
 */
import { addRoute, NetlinkError, NetlinkSocket } from "../actors/netlink/mod.ts";

const sock = NetlinkSocket.open({ netns: Deno.args[0] });
try {
  await addRoute(sock, { dst: "198.51.100.0/24", gateway: "192.0.2.2", protocol: 211 });
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  console.log(JSON.stringify({
    name: (e as Error).name,
    errnoName: (e as NetlinkError).errnoName,
    type: (e as NetlinkError).request?.typeName,
  }));
} finally {
  sock.close();
}

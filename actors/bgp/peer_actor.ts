/**
 * The peer actor: one BGP session with one neighbour. It owns the TCP connection (outgoing
 * through `Deno.connect`, or handed over by the speaker's listener), drives the pure
 * {@link SessionFsm}, decodes what arrives, feeds the RIB and sends its Adj-RIB-Out.
 *
 * Receive path: a read loop per connection `ask`s the actor with each chunk, so a busy actor
 * slows the reader (TCP backpressure) and messages are handled one at a time. UPDATEs of one
 * chunk go to the RIB as one ordered batch.
 * Transmit path: exports from the RIB are diffed against the Adj-RIB-Out, grouped by shared
 * attributes and packed into as few UPDATEs as the negotiated size allows; writes are queued so
 * that a peer that stops reading never blocks the actor (its hold timer still fires).
 * Collisions (RFC 4271 6.8): a second connection during OpenSent/OpenConfirm is answered with
 * an OPEN, and when its OPEN arrives the BGP identifiers decide which connection stays.
 * TTL/multihop: Deno cannot set IP_TTL on a socket, so `multihop` is recorded and shown only.
 * @module
 */
import { actor, type ActorRef, type ReplyTo } from "../../runtime/mod.ts";
import type { Capability } from "./capabilities.ts";
import type { PeerConfig } from "./config.ts";
import { peerNeedsReset } from "./config.ts";
import { Afi, AS_TRANS, CeaseSubcode, ErrorCode, Safi } from "./constants.ts";
import { BgpWireError, type NotificationSpec } from "./errors.ts";
import { type FsmAction, type FsmEvent, SessionFsm, type State, type TimerName } from "./fsm.ts";
import { decodeFrame } from "./messages.ts";
import {
  cease,
  encodeKeepalive,
  encodeNotification,
  notificationName,
  shutdownCommunication,
} from "./notification.ts";
import {
  checkOpenAgainstConfig,
  encodeOpen,
  negotiate,
  type Negotiated,
  type OpenMessage,
} from "./open_message.ts";
import { canonicalAddress, type Family } from "./prefix.ts";
import type { Export, Route, RouteSource } from "./rib.ts";
import { hasLoop } from "./rib.ts";
import type { ExportBatch, RibMsg } from "./rib_actor.ts";
import {
  encodeEndOfRib,
  endOfRibFamily,
  packAnnouncement,
  packWithdrawal,
} from "./update_message.ts";
import { MessageFramer } from "./wire_header.ts";
import { encodeRouteRefresh } from "./route_refresh.ts";
import { familyOfAfiSafi } from "./path_attributes.ts";

/** Status of a session, for the control API. */
export interface PeerStatus {
  /** Peer address. */
  readonly address: string;
  /** Peer ASN. */
  readonly asn: number;
  /** FSM state. */
  readonly state: State;
  /** Seconds since Established (0 otherwise). */
  readonly uptimeSeconds: number;
  /** iBGP or eBGP. */
  readonly type: "ibgp" | "ebgp";
  /** Passive mode. */
  readonly passive: boolean;
  /** Recorded multihop TTL (not applied: Deno cannot set IP_TTL). */
  readonly multihop: number;
  /** Negotiated hold time (s). */
  readonly holdTime?: number;
  /** Negotiated keepalive (s). */
  readonly keepaliveTime?: number;
  /** Families negotiated. */
  readonly families: readonly Family[];
  /** Peer BGP identifier. */
  readonly peerBgpId?: string;
  /** Local address of the session. */
  readonly localAddress?: string;
  /** Prefixes accepted from the peer. */
  readonly prefixesReceived: number;
  /** Prefixes in the Adj-RIB-Out. */
  readonly prefixesSent: number;
  /** Messages received / sent. */
  readonly messagesReceived: number;
  /** Messages sent. */
  readonly messagesSent: number;
  /** Session failures counted. */
  readonly connectRetryCounter: number;
  /** Times the session reached Established. */
  readonly establishedCount: number;
  /** Last error, if any. */
  readonly lastError?: string;
  /** Peer announced graceful restart. */
  readonly peerGracefulRestart: boolean;
}

/** Messages of the peer actor. */
export type PeerMsg =
  | ExportBatch
  | { readonly type: "incoming"; readonly conn: Deno.TcpConn }
  | { readonly type: "connected"; readonly gen: number; readonly conn: Deno.TcpConn }
  | { readonly type: "connectFailed"; readonly gen: number; readonly error: string }
  | {
    readonly type: "bytes";
    readonly gen: number;
    readonly chunk: Uint8Array;
    readonly replyTo: ReplyTo<void>;
  }
  | { readonly type: "closed"; readonly gen: number; readonly error?: string }
  | { readonly type: "timer"; readonly timer: TimerName }
  | {
    readonly type: "reconfigure";
    readonly config: PeerConfig;
    readonly replyTo?: ReplyTo<"unchanged" | "live" | "reset">;
  }
  | { readonly type: "status"; readonly replyTo: ReplyTo<PeerStatus> }
  | { readonly type: "routeRefresh"; readonly family: Family }
  /** Fault injection (chaos testing, like Erlang's `exit(Pid, kill)`): the incarnation throws. */
  | { readonly type: "crash"; readonly reason: string };

/** Settings of a peer actor. */
export interface PeerActorOptions {
  /** The peer's configuration. */
  readonly config: PeerConfig;
  /** Our ASN. */
  readonly localAsn: number;
  /** Our BGP identifier. */
  readonly routerId: string;
  /** Path of the RIB actor. */
  readonly ribPath: string;
  /** LOCAL_PREF sent to iBGP peers for routes without one. */
  readonly defaultLocalPref?: number;
  /** Random source (jitter). */
  readonly random?: () => number;
}

interface Conn {
  readonly gen: number;
  readonly conn: Deno.TcpConn;
  readonly framer: MessageFramer;
  readonly direction: "outgoing" | "incoming";
  readonly localAddress: string;
  writeChain: Promise<void>;
  closed: boolean;
}

const FAMILY_AFI: Record<Family, number> = { ipv4: Afi.IPV4, ipv6: Afi.IPV6 };

function stripMapped(addr: string): string {
  const a = addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr;
  try {
    return canonicalAddress(a);
  } catch {
    return a;
  }
}

async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Child id of the peer actor of an address. */
export function peerChildId(address: string): string {
  return `peer-${address}`;
}

/** The peer actor definition. */
export function peerActor(opts: PeerActorOptions) {
  return actor<PeerMsg>("bgp-peer", (ctx) => {
    let config = opts.config;
    const ibgp = config.asn === opts.localAsn;
    const key = config.address;
    const self = ctx.self;
    const rib = () => ctx.lookup<RibMsg>(opts.ribPath);
    let fsm = makeFsm();
    let cur: Conn | null = null;
    let pending: { c: Conn; open?: OpenMessage } | null = null;
    let gen = 0;
    let connectGen = 0;
    let stopped = false;
    let establishedAt = 0;
    let firstUpdateAt = 0;
    let establishedCount = 0;
    let lastError: string | undefined;
    let received = 0;
    let prefixesReceived = 0;
    let messagesReceived = 0;
    let messagesSent = 0;
    const adjOut = new Map<string, Export>();
    let source: RouteSource | null = null;
    let suppressOpen = false;

    const labels = { peer: key };
    const msgIn = ctx.metrics.counter("tern_bgp_messages_received_total", "BGP messages received");
    const msgOut = ctx.metrics.counter("tern_bgp_messages_sent_total", "BGP messages sent");
    const upGauge = ctx.metrics.gauge("tern_bgp_session_up", "1 when the session is Established");
    const issues = ctx.metrics.counter(
      "tern_bgp_update_errors_total",
      "RFC 7606 treat-as-withdraw and attribute-discard outcomes",
    );
    upGauge.set(0, labels);

    function makeFsm() {
      return new SessionFsm({
        passive: config.passive,
        connectRetryMs: config.connectRetryTime * 1000,
      }, opts.random ?? Math.random);
    }

    const localOpen = () => {
      const caps: Capability[] = config.families.map((f) => ({
        kind: "multiprotocol" as const,
        afi: FAMILY_AFI[f],
        safi: Safi.UNICAST,
      }));
      caps.push({ kind: "route-refresh" });
      caps.push({ kind: "extended-message" });
      caps.push({ kind: "four-octet-as", asn: opts.localAsn });
      if (config.gracefulRestart.enabled) {
        // Receiving speaker only (RFC 4724 3): no families, we do not preserve forwarding.
        caps.push({
          kind: "graceful-restart",
          restarting: false,
          notification: false,
          restartTime: config.gracefulRestart.restartTime,
          families: [],
        });
      }
      return {
        myAsn: opts.localAsn > 0xffff ? AS_TRANS : opts.localAsn,
        holdTime: config.holdTime,
        bgpId: opts.routerId,
        capabilities: caps,
      };
    };

    const send = (c: Conn | null, bytes: Uint8Array, count = 1) => {
      if (!c || c.closed) return;
      messagesSent += count;
      msgOut.inc(labels, count);
      c.writeChain = c.writeChain.then(() => writeAll(c.conn, bytes)).catch((e) => {
        if (!c.closed) self.tell({ type: "closed", gen: c.gen, error: String(e) });
      });
    };

    const closeConn = (c: Conn | null) => {
      if (!c || c.closed) return;
      c.closed = true;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(t);
        try {
          c.conn.close();
        } catch { /* already closed */ }
      };
      const t = setTimeout(finish, 1000);
      c.writeChain.finally(finish);
    };

    const readLoop = async (c: Conn) => {
      const buf = new Uint8Array(65536);
      let error: string | undefined;
      try {
        for (;;) {
          const n = await c.conn.read(buf);
          if (n === null) break;
          if (c.closed) break;
          await self.ask<void>(
            (replyTo) => ({ type: "bytes", gen: c.gen, chunk: buf.slice(0, n), replyTo }),
            { timeoutMs: 600_000 },
          );
        }
      } catch (e) {
        error = String(e);
      }
      if (!c.closed && !stopped) self.tell({ type: "closed", gen: c.gen, error });
    };

    const adopt = (conn: Deno.TcpConn, direction: Conn["direction"]): Conn => {
      try {
        conn.setNoDelay(true);
      } catch { /* not fatal */ }
      const c: Conn = {
        gen: ++gen,
        conn,
        framer: new MessageFramer(),
        direction,
        localAddress: stripMapped((conn.localAddr as Deno.NetAddr).hostname),
        writeChain: Promise.resolve(),
        closed: false,
      };
      readLoop(c);
      return c;
    };

    const startConnect = () => {
      const g = ++connectGen;
      Deno.connect({ hostname: config.address, port: config.port }).then(
        (conn) => {
          if (stopped) {
            conn.close();
            return;
          }
          self.tell({ type: "connected", gen: g, conn });
        },
        (e) => {
          if (!stopped) self.tell({ type: "connectFailed", gen: g, error: String(e) });
        },
      );
    };

    const sessionFamilies = (n: Negotiated): Family[] => {
      const out: Family[] = [];
      for (const f of n.families) {
        const fam = familyOfAfiSafi(f.afi, f.safi);
        if (fam && config.families.includes(fam)) out.push(fam);
      }
      return out;
    };

    const exportTarget = (c: Conn, n: Negotiated) => {
      const local = c.localAddress;
      return {
        peer: key,
        ibgp,
        localAsn: opts.localAsn,
        nextHop4: config.nextHop.ipv4 ?? (local.includes(":") ? undefined : local),
        nextHop6: config.nextHop.ipv6 ?? (local.includes(":") ? local : undefined),
        defaultLocalPref: opts.defaultLocalPref,
        families: sessionFamilies(n),
      };
    };

    const retainMs = (n: Negotiated | null, reason: string): number | undefined => {
      if (!n || !config.gracefulRestart.enabled || !n.peerGracefulRestart) return undefined;
      if (n.peerGracefulRestart.families.length === 0) return undefined;
      // RFC 4724: routes are retained when the session drops without a NOTIFICATION
      // (RFC 8538 extends this to NOTIFICATIONs when both sides set the N bit; we do not).
      if (reason.startsWith("notification") || reason === "stopped") return undefined;
      if (reason.startsWith("error")) return undefined;
      return Math.max(1, n.peerGracefulRestart.restartTime) * 1000;
    };

    const run = (actions: FsmAction[]) => {
      for (const a of actions) {
        switch (a.type) {
          case "connect":
            startConnect();
            break;
          case "close":
            connectGen++;
            closeConn(cur);
            cur = null;
            break;
          case "sendOpen":
            if (suppressOpen) break;
            send(cur, encodeOpen(localOpen()));
            break;
          case "sendKeepalive":
            send(cur, encodeKeepalive());
            break;
          case "sendNotification":
            lastError = `sent ${notificationName(a.notification.code, a.notification.subcode)}`;
            ctx.log.warn("notification sent", {
              peer: key,
              code: a.notification.code,
              subcode: a.notification.subcode,
              name: notificationName(a.notification.code, a.notification.subcode),
            });
            send(cur, encodeNotification(a.notification));
            break;
          case "startTimer":
            ctx.timers.once(a.timer, a.ms, { type: "timer", timer: a.timer });
            break;
          case "stopTimer":
            ctx.timers.cancel(a.timer);
            break;
          case "stateChange":
            ctx.log.info("state change", { peer: key, from: a.from, to: a.to });
            break;
          case "established": {
            const n = a.negotiated;
            establishedAt = ctx.clock.now();
            firstUpdateAt = 0;
            establishedCount++;
            upGauge.set(1, labels);
            cur?.framer.setExtended(n.extendedMessage);
            source = {
              peer: key,
              asn: n.peerAsn,
              bgpId: n.peerBgpId,
              ibgp,
              local: false,
            };
            adjOut.clear();
            rib()?.tell({ type: "peerUp", target: exportTarget(cur!, n), ref: self });
            break;
          }
          case "sessionDown": {
            upGauge.set(0, labels);
            const keep = retainMs(fsm.negotiated ?? lastNegotiated, a.reason);
            rib()?.tell({ type: "peerDown", peer: key, retainMs: keep });
            adjOut.clear();
            prefixesReceived = 0;
            establishedAt = 0;
            break;
          }
        }
      }
    };

    let lastNegotiated: Negotiated | null = null;
    const handle = (event: FsmEvent) => {
      if (fsm.negotiated) lastNegotiated = fsm.negotiated;
      run(fsm.handle(event, ctx.clock.now()));
    };

    const refuse = (conn: Deno.TcpConn, subcode: number) => {
      const bytes = encodeNotification(cease(subcode));
      writeAll(conn, bytes).catch(() => {}).finally(() => {
        try {
          conn.close();
        } catch { /* closed */ }
      });
    };

    const maxLength = () => fsm.negotiated?.extendedMessage ? 65535 : 4096;

    const sendExports = (
      prefixes: readonly string[],
      exports: readonly (Export | null)[],
      full: boolean,
    ) => {
      const n = fsm.negotiated;
      if (!cur || !n || fsm.state !== "Established") return;
      const groups = new Map<Export, { family: Family; prefixes: string[] }[]>();
      const withdraw4: string[] = [], withdraw6: string[] = [];
      for (let i = 0; i < prefixes.length; i++) {
        const prefix = prefixes[i], exp = exports[i];
        const prev = adjOut.get(prefix);
        const family: Family = prefix.includes(":") ? "ipv6" : "ipv4";
        if (exp === null) {
          if (prev) {
            adjOut.delete(prefix);
            (family === "ipv4" ? withdraw4 : withdraw6).push(prefix);
          }
          continue;
        }
        if (prev === exp) continue;
        adjOut.set(prefix, exp);
        let g = groups.get(exp);
        if (!g) groups.set(exp, g = []);
        let entry = g.find((x) => x.family === family);
        if (!entry) g.push(entry = { family, prefixes: [] });
        entry.prefixes.push(prefix);
      }
      const out: Uint8Array[] = [];
      const encOpts = { as4: n.as4, maxLength: maxLength() };
      if (withdraw4.length) out.push(...packWithdrawal("ipv4", withdraw4, encOpts));
      if (withdraw6.length) out.push(...packWithdrawal("ipv6", withdraw6, encOpts));
      for (const [exp, entries] of groups) {
        for (const e of entries) {
          out.push(...packAnnouncement({
            family: e.family,
            attributes: exp.attrs,
            mpNextHop: e.family === "ipv6" ? exp.nextHop : undefined,
            prefixes: e.prefixes,
          }, encOpts));
        }
      }
      if (full) {
        for (const f of sessionFamilies(n)) out.push(encodeEndOfRib(f));
      }
      if (out.length) send(cur, concat(out), out.length);
    };

    /** Decodes a chunk for the main connection. */
    const onBytes = async (c: Conn, chunk: Uint8Array) => {
      c.framer.push(chunk);
      // Prefixes received and, parallel, the route to install (one object per UPDATE, shared
      // by its prefixes) or null for a withdrawal.
      let prefixes: string[] = [], routes: (Route | null)[] = [];
      const flush = async () => {
        if (prefixes.length === 0 || !source) return;
        const ps = prefixes, rs = routes;
        prefixes = [];
        routes = [];
        const ref = rib();
        if (!ref) return;
        const count = await ref.ask<number>(
          (replyTo) => ({ type: "routes", source: source!, prefixes: ps, routes: rs, replyTo }),
          { timeoutMs: 600_000 },
        );
        prefixesReceived = count;
        if (config.maxPrefixes > 0 && count > config.maxPrefixes && cur === c) {
          const data = new Uint8Array(7);
          const v = new DataView(data.buffer);
          v.setUint16(0, Afi.IPV4);
          data[2] = Safi.UNICAST;
          v.setUint32(3, config.maxPrefixes);
          lastError = `maximum prefixes ${config.maxPrefixes} exceeded (${count})`;
          handle({
            type: "LocalError",
            notification: { code: ErrorCode.CEASE, subcode: CeaseSubcode.MAX_PREFIXES, data },
          });
        }
      };
      for (;;) {
        if (cur !== c || c.closed) break;
        let frame;
        try {
          frame = c.framer.next();
        } catch (e) {
          if (e instanceof BgpWireError) {
            lastError = e.message;
            handle({ type: "MessageError", notification: e.notification });
            break;
          }
          throw e;
        }
        if (!frame) break;
        messagesReceived++;
        received++;
        const n = fsm.negotiated;
        const res = decodeFrame(frame, {
          as4: n?.as4 ?? false,
          ibgp,
          peerAsn: ibgp ? undefined : config.asn,
        });
        if (!res.ok) {
          lastError = res.error.message;
          await flush();
          handle({ type: "MessageError", notification: res.error.notification });
          break;
        }
        const m = res.message;
        msgIn.inc({ peer: key, type: m.type });
        switch (m.type) {
          case "open": {
            try {
              checkOpenAgainstConfig(m, {
                peerAsn: config.asn,
                localAsn: opts.localAsn,
                localBgpId: opts.routerId,
              });
            } catch (e) {
              if (!(e instanceof BgpWireError)) throw e;
              lastError = e.message;
              handle({ type: "MessageError", notification: e.notification });
              break;
            }
            handle({
              type: "BGPOpen",
              negotiated: negotiate(localOpen(), m, config.keepaliveTime),
            });
            break;
          }
          case "keepalive":
            handle({ type: "KeepAliveMsg" });
            break;
          case "notification": {
            const text = shutdownCommunication(m);
            lastError = `received ${notificationName(m.code, m.subcode)}${text ? `: ${text}` : ""}`;
            ctx.log.warn("notification received", { peer: key, code: m.code, subcode: m.subcode });
            await flush();
            handle({ type: "NotifMsg", notification: m });
            break;
          }
          case "route-refresh": {
            handle({ type: "UpdateMsg" });
            const fam = familyOfAfiSafi(m.afi, m.safi);
            if (fam && fsm.state === "Established") {
              const ps: string[] = [], es: Export[] = [];
              for (const [p, e] of adjOut) {
                if (p.includes(":") === (fam === "ipv6")) {
                  ps.push(p);
                  es.push(e);
                }
              }
              for (const p of ps) adjOut.delete(p);
              sendExports(ps, es, false);
              send(cur, encodeEndOfRib(fam));
            }
            break;
          }
          case "update": {
            if (firstUpdateAt === 0) {
              firstUpdateAt = ctx.clock.now();
              ctx.log.info("first UPDATE", {
                peer: key,
                afterEstablishedMs: firstUpdateAt - establishedAt,
              });
            }
            handle({ type: "UpdateMsg" });
            if (fsm.state !== "Established" || !n) break;
            const fams = sessionFamilies(n);
            const msg = m.message;
            const eor = endOfRibFamily(msg);
            if (eor) {
              await flush();
              rib()?.tell({ type: "endOfRib", peer: key, family: eor });
              break;
            }
            if (m.issues.length) {
              for (const i of m.issues) issues.inc({ peer: key, action: i.action });
              ctx.log.warn("UPDATE error handled per RFC 7606", {
                peer: key,
                treatAsWithdraw: m.treatAsWithdraw,
                issues: m.issues.map((i) => `${i.action}: ${i.reason}`),
              });
            }
            if (fams.includes("ipv4")) {
              for (const p of msg.withdrawn) {
                prefixes.push(p);
                routes.push(null);
              }
            }
            const un = msg.mpUnreach;
            if (un) {
              const f = familyOfAfiSafi(un.afi, un.safi);
              if (f && fams.includes(f)) {
                for (const p of un.withdrawn) {
                  prefixes.push(p);
                  routes.push(null);
                }
              }
            }
            const attrs = msg.attributes;
            const unusable = m.treatAsWithdraw || hasLoop(attrs.asPath, opts.localAsn) ||
              (attrs.originatorId !== undefined && attrs.originatorId === opts.routerId);
            if (fams.includes("ipv4") && msg.nlri.length) {
              const route: Route | null = unusable
                ? null
                : { source: source!, attrs, nextHop: attrs.nextHop ?? "", stale: false };
              for (const p of msg.nlri) {
                prefixes.push(p);
                routes.push(route);
              }
            }
            const reach = msg.mpReach;
            if (reach) {
              const f = familyOfAfiSafi(reach.afi, reach.safi);
              if (f && fams.includes(f)) {
                const nh = reach.nextHop === "::" && reach.linkLocalNextHop
                  ? reach.linkLocalNextHop
                  : reach.nextHop;
                const ll = reach.linkLocalNextHop;
                const route: Route | null = unusable
                  ? null
                  : ll && ll !== nh
                  ? { source: source!, attrs, nextHop: nh, linkLocalNextHop: ll, stale: false }
                  : { source: source!, attrs, nextHop: nh, stale: false };
                for (const p of reach.nlri) {
                  prefixes.push(p);
                  routes.push(route);
                }
              }
            }
            if (prefixes.length >= 20_000) await flush();
            break;
          }
        }
      }
      await flush();
    };

    /** Handles a chunk on a colliding second connection: only its OPEN matters. */
    const onPendingBytes = (p: { c: Conn; open?: OpenMessage }, chunk: Uint8Array) => {
      const c = p.c;
      c.framer.push(chunk);
      let frame;
      try {
        frame = c.framer.next();
      } catch {
        closeConn(c);
        pending = null;
        return;
      }
      if (!frame) return;
      const res = decodeFrame(frame, { as4: false, ibgp });
      if (!res.ok || res.message.type !== "open") {
        if (!res.ok) send(c, encodeNotification(res.error.notification));
        closeConn(c);
        pending = null;
        return;
      }
      const open = res.message;
      try {
        checkOpenAgainstConfig(open, {
          peerAsn: config.asn,
          localAsn: opts.localAsn,
          localBgpId: opts.routerId,
        });
      } catch (e) {
        if (e instanceof BgpWireError) send(c, encodeNotification(e.notification));
        closeConn(c);
        pending = null;
        return;
      }
      const keep = idNum(opts.routerId) > idNum(open.bgpId) ? "outgoing" : "incoming";
      const curIsOutgoing = cur?.direction === "outgoing";
      const keepPending = keep === "incoming" && curIsOutgoing;
      ctx.log.info("connection collision", { peer: key, keep: keepPending ? "new" : "existing" });
      if (!keepPending) {
        send(c, encodeNotification(cease(CeaseSubcode.CONNECTION_COLLISION)));
        closeConn(c);
        pending = null;
        return;
      }
      // Drop the existing connection and continue the session on the new one, whose OPEN
      // we already sent and whose OPEN we now hold.
      handle({ type: "OpenCollisionDump" });
      pending = null;
      takeOver(c);
      handle({ type: "BGPOpen", negotiated: negotiate(localOpen(), open, config.keepaliveTime) });
      // Anything after the OPEN in this chunk is handled on the main path.
      if (c.framer.buffered > 0) {
        self.tell({ type: "bytes", gen: c.gen, chunk: new Uint8Array(0), replyTo: noReply });
      }
    };

    /** Makes `c` the main connection from Idle/Connect/Active, with its OPEN already sent. */
    const takeOver = (c: Conn) => {
      connectGen++;
      if (fsm.state === "Idle") {
        const acts = fsm.handle({ type: "AutomaticStart" }, ctx.clock.now())
          .filter((a) => a.type !== "connect");
        run(acts);
      }
      if (cur && cur !== c) closeConn(cur);
      cur = c;
      suppressOpen = true;
      try {
        handle({ type: "TcpConnectionConfirmed" });
      } finally {
        suppressOpen = false;
      }
    };

    const adoptIncoming = (conn: Deno.TcpConn) => {
      connectGen++;
      if (fsm.state === "Idle") {
        const acts = fsm.handle({ type: "AutomaticStart" }, ctx.clock.now())
          .filter((a) => a.type !== "connect");
        run(acts);
      }
      if (cur) closeConn(cur);
      cur = adopt(conn, "incoming");
      handle({ type: "TcpConnectionConfirmed" });
    };

    // A previous incarnation may have left routes behind.
    if (ctx.restarts > 0) rib()?.tell({ type: "peerDown", peer: key });
    handle({ type: "ManualStart" });

    return {
      async receive(msg) {
        switch (msg.type) {
          case "timer": {
            const map: Record<TimerName, FsmEvent["type"]> = {
              connectRetry: "ConnectRetryTimerExpires",
              hold: "HoldTimerExpires",
              keepalive: "KeepaliveTimerExpires",
              idleHold: "IdleHoldTimerExpires",
            };
            if (msg.timer === "hold") lastError = "hold timer expired";
            handle({ type: map[msg.timer] } as FsmEvent);
            break;
          }
          case "connected":
            if (msg.gen !== connectGen || cur || fsm.state !== "Connect") {
              try {
                msg.conn.close();
              } catch { /* closed */ }
              break;
            }
            cur = adopt(msg.conn, "outgoing");
            handle({ type: "TcpConnectionConfirmed" });
            break;
          case "connectFailed":
            if (msg.gen !== connectGen) break;
            lastError = `connect: ${msg.error}`;
            handle({ type: "TcpConnectionFails" });
            break;
          case "incoming": {
            const st = fsm.state;
            if (st === "Idle" && fsm.connectRetryCounter === 0 && stopped) {
              refuse(msg.conn, CeaseSubcode.CONNECTION_REJECTED);
            } else if (st === "Idle" || st === "Connect" || st === "Active") {
              adoptIncoming(msg.conn);
            } else if (st === "OpenSent" || st === "OpenConfirm") {
              if (pending) refuse(msg.conn, CeaseSubcode.CONNECTION_COLLISION);
              else {
                const c = adopt(msg.conn, "incoming");
                pending = { c };
                send(c, encodeOpen(localOpen()));
              }
            } else if (fsm.negotiated?.peerGracefulRestart && config.gracefulRestart.enabled) {
              // RFC 4724 4.2: a new connection from an Established peer means it restarted.
              ctx.log.info("peer restarted (graceful restart)", { peer: key });
              handle({ type: "TcpConnectionFails" });
              adoptIncoming(msg.conn);
            } else {
              refuse(msg.conn, CeaseSubcode.CONNECTION_COLLISION);
            }
            break;
          }
          case "bytes":
            try {
              if (cur && msg.gen === cur.gen) await onBytes(cur, msg.chunk);
              else if (pending && msg.gen === pending.c.gen) onPendingBytes(pending, msg.chunk);
            } finally {
              msg.replyTo.reply();
            }
            break;
          case "closed":
            if (cur && msg.gen === cur.gen) {
              if (msg.error) lastError = msg.error;
              else if (fsm.state === "Established") lastError = "connection closed by peer";
              handle({ type: "TcpConnectionFails" });
            } else if (pending && msg.gen === pending.c.gen) {
              closeConn(pending.c);
              pending = null;
            }
            break;
          case "export":
            sendExports(msg.prefixes, msg.exports, msg.full);
            break;
          case "routeRefresh":
            if (fsm.state === "Established" && fsm.negotiated?.routeRefresh && cur) {
              send(
                cur,
                encodeRouteRefresh({ afi: FAMILY_AFI[msg.family], safi: Safi.UNICAST, subtype: 0 }),
              );
            }
            break;
          case "crash":
            throw new Error(`Crash requested: ${msg.reason}`);
          case "reconfigure": {
            const old = config;
            config = msg.config;
            if (JSON.stringify(old) === JSON.stringify(config)) {
              msg.replyTo?.reply("unchanged");
            } else if (peerNeedsReset(old, config)) {
              ctx.log.info("peer reconfigured: session reset", { peer: key });
              handle({ type: "ManualStop", notification: cease(CeaseSubcode.OTHER_CONFIG_CHANGE) });
              fsm = makeFsm();
              handle({ type: "ManualStart" });
              msg.replyTo?.reply("reset");
            } else {
              ctx.log.info("peer reconfigured live", { peer: key });
              if (fsm.state === "Established" && cur && fsm.negotiated) {
                rib()?.tell({
                  type: "peerUp",
                  target: exportTarget(cur, fsm.negotiated),
                  ref: self,
                });
              }
              msg.replyTo?.reply("live");
            }
            break;
          }
          case "status": {
            const n = fsm.negotiated;
            msg.replyTo.reply({
              address: key,
              asn: config.asn,
              state: fsm.state,
              uptimeSeconds: establishedAt
                ? Math.round((ctx.clock.now() - establishedAt) / 1000)
                : 0,
              type: ibgp ? "ibgp" : "ebgp",
              passive: config.passive,
              multihop: config.multihop,
              ...(n
                ? { holdTime: n.holdTime, keepaliveTime: n.keepaliveTime, peerBgpId: n.peerBgpId }
                : {}),
              families: n ? sessionFamilies(n) : [],
              ...(cur ? { localAddress: cur.localAddress } : {}),
              prefixesReceived,
              prefixesSent: adjOut.size,
              messagesReceived,
              messagesSent,
              connectRetryCounter: fsm.connectRetryCounter,
              establishedCount,
              ...(lastError ? { lastError } : {}),
              peerGracefulRestart: !!n?.peerGracefulRestart,
            });
            break;
          }
        }
      },
      async stop() {
        stopped = true;
        const wasUp = fsm.state === "Established";
        const c = cur;
        if (c && !c.closed && (fsm.state === "OpenSent" || fsm.state === "OpenConfirm" || wasUp)) {
          send(c, encodeNotification(cease(CeaseSubcode.PEER_DECONFIGURED)));
        }
        closeConn(c);
        if (pending) closeConn(pending.c);
        cur = null;
        pending = null;
        if (c) {
          await Promise.race([
            c.writeChain,
            new Promise<void>((r) => {
              const t = setTimeout(r, 500);
              c.writeChain.finally(() => clearTimeout(t));
            }),
          ]);
        }
        upGauge.set(0, labels);
        if (wasUp) rib()?.tell({ type: "peerDown", peer: key });
      },
      inspect() {
        return {
          peer: key,
          state: fsm.state,
          connections: (cur ? 1 : 0) + (pending ? 1 : 0),
          adjRibOut: adjOut.size,
          prefixesReceived,
          messagesReceived: received,
          backoffMs: fsm.backoff.current,
          timers: (["connectRetry", "hold", "keepalive", "idleHold"] as const).filter((t) =>
            ctx.timers.has(t)
          ),
        };
      },
    };
  });
}

const noReply: ReplyTo<void> = {
  reply() {},
  fail() {},
  get settled() {
    return true;
  },
};

function idNum(id: string): number {
  const p = id.split(".").map(Number);
  return ((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3];
}

/** Builds the "connect" ActorRef type for the speaker. */
export type PeerRef = ActorRef<PeerMsg>;
/** Re-export for the speaker. */
export type { NotificationSpec };

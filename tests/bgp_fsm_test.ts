/** The RFC 4271 section 8 FSM: every state x every event, timers, backoff, collisions. */
import assert from "node:assert/strict";
import { IdleBackoff } from "../actors/bgp/backoff.ts";
import {
  collisionKeeps,
  type FsmAction,
  type FsmEvent,
  SessionFsm,
  type State,
} from "../actors/bgp/fsm.ts";
import type { Negotiated } from "../actors/bgp/open_message.ts";

const NEG: Negotiated = {
  holdTime: 9,
  keepaliveTime: 3,
  as4: true,
  extendedMessage: false,
  routeRefresh: true,
  families: [{ afi: 1, safi: 1 }],
  peerGracefulRestart: null,
  peerAsn: 65001,
  peerBgpId: "192.0.2.1",
};
const NOTE = { code: 3, subcode: 1, data: new Uint8Array(0) };

const ALL_EVENTS: FsmEvent[] = [
  { type: "ManualStart" },
  { type: "ManualStop" },
  { type: "AutomaticStart" },
  { type: "ConnectRetryTimerExpires" },
  { type: "HoldTimerExpires" },
  { type: "KeepaliveTimerExpires" },
  { type: "IdleHoldTimerExpires" },
  { type: "TcpConnectionConfirmed" },
  { type: "TcpConnectionFails" },
  { type: "BGPOpen", negotiated: NEG },
  { type: "MessageError", notification: NOTE },
  { type: "NotifMsg", notification: NOTE },
  { type: "KeepAliveMsg" },
  { type: "UpdateMsg" },
  { type: "OpenCollisionDump" },
  { type: "LocalError", notification: { code: 6, subcode: 1, data: new Uint8Array(0) } },
];

const PATH_TO: Record<State, FsmEvent[]> = {
  Idle: [],
  Connect: [{ type: "ManualStart" }],
  Active: [{ type: "ManualStart" }, { type: "TcpConnectionFails" }],
  OpenSent: [{ type: "ManualStart" }, { type: "TcpConnectionConfirmed" }],
  OpenConfirm: [
    { type: "ManualStart" },
    { type: "TcpConnectionConfirmed" },
    { type: "BGPOpen", negotiated: NEG },
  ],
  Established: [
    { type: "ManualStart" },
    { type: "TcpConnectionConfirmed" },
    { type: "BGPOpen", negotiated: NEG },
    { type: "KeepAliveMsg" },
  ],
};

function at(state: State, passive = false): SessionFsm {
  const fsm = new SessionFsm({ passive, connectRetryMs: 5000 }, () => 0.5);
  for (const e of PATH_TO[state]) fsm.handle(e, 0);
  assert.equal(fsm.state, state);
  return fsm;
}

function has(actions: FsmAction[], pred: (a: FsmAction) => boolean): boolean {
  return actions.some(pred);
}
const sent = (a: FsmAction[], code: number, subcode: number) =>
  has(
    a,
    (x) =>
      x.type === "sendNotification" && x.notification.code === code &&
      x.notification.subcode === subcode,
  );

/** Expected next state for every (state, event) pair, and a check of the key actions. */
const TABLE: Record<State, Record<string, [State, ((a: FsmAction[]) => boolean)?]>> = {
  Idle: {
    ManualStart: ["Connect", (a) => has(a, (x) => x.type === "connect")],
    ManualStop: ["Idle"],
    AutomaticStart: ["Connect", (a) => has(a, (x) => x.type === "connect")],
    ConnectRetryTimerExpires: ["Idle", (a) => a.length === 0],
    HoldTimerExpires: ["Idle", (a) => a.length === 0],
    KeepaliveTimerExpires: ["Idle", (a) => a.length === 0],
    IdleHoldTimerExpires: ["Idle"], // stopped FSMs do not restart on their own
    TcpConnectionConfirmed: ["Idle", (a) => has(a, (x) => x.type === "close")],
    TcpConnectionFails: ["Idle"],
    BGPOpen: ["Idle"],
    MessageError: ["Idle"],
    NotifMsg: ["Idle"],
    KeepAliveMsg: ["Idle"],
    UpdateMsg: ["Idle"],
    OpenCollisionDump: ["Idle"],
    LocalError: ["Idle"],
  },
  Connect: {
    ManualStart: ["Connect"],
    ManualStop: ["Idle", (a) => !has(a, (x) => x.type === "sendNotification")],
    AutomaticStart: ["Connect"],
    ConnectRetryTimerExpires: ["Connect", (a) => has(a, (x) => x.type === "connect")],
    HoldTimerExpires: ["Idle"],
    KeepaliveTimerExpires: ["Idle"],
    IdleHoldTimerExpires: ["Idle"],
    TcpConnectionConfirmed: ["OpenSent", (a) => has(a, (x) => x.type === "sendOpen")],
    TcpConnectionFails: [
      "Active",
      (a) => has(a, (x) => x.type === "startTimer" && x.timer === "connectRetry"),
    ],
    BGPOpen: ["Idle"],
    MessageError: ["Idle"],
    NotifMsg: ["Idle"],
    KeepAliveMsg: ["Idle"],
    UpdateMsg: ["Idle"],
    OpenCollisionDump: ["Idle"],
    LocalError: ["Idle"],
  },
  Active: {
    ManualStart: ["Active"],
    ManualStop: ["Idle"],
    AutomaticStart: ["Active"],
    ConnectRetryTimerExpires: ["Connect", (a) => has(a, (x) => x.type === "connect")],
    HoldTimerExpires: ["Idle"],
    KeepaliveTimerExpires: ["Idle"],
    IdleHoldTimerExpires: ["Idle"],
    TcpConnectionConfirmed: ["OpenSent", (a) => has(a, (x) => x.type === "sendOpen")],
    TcpConnectionFails: ["Active"],
    BGPOpen: ["Idle"],
    MessageError: ["Idle"],
    NotifMsg: ["Idle"],
    KeepAliveMsg: ["Idle"],
    UpdateMsg: ["Idle"],
    OpenCollisionDump: ["Idle"],
    LocalError: ["Idle"],
  },
  OpenSent: {
    ManualStart: ["OpenSent"],
    ManualStop: ["Idle", (a) => sent(a, 6, 2)],
    AutomaticStart: ["OpenSent"],
    ConnectRetryTimerExpires: ["Idle", (a) => sent(a, 5, 1)],
    HoldTimerExpires: ["Idle", (a) => sent(a, 4, 0)],
    KeepaliveTimerExpires: ["Idle", (a) => sent(a, 5, 1)],
    IdleHoldTimerExpires: ["Idle", (a) => sent(a, 5, 1)],
    TcpConnectionConfirmed: ["Idle", (a) => sent(a, 5, 1)],
    TcpConnectionFails: ["Active", (a) => has(a, (x) => x.type === "close")],
    BGPOpen: [
      "OpenConfirm",
      (a) =>
        has(a, (x) => x.type === "sendKeepalive") &&
        has(a, (x) => x.type === "startTimer" && x.timer === "hold" && x.ms === 9000) &&
        has(a, (x) => x.type === "startTimer" && x.timer === "keepalive" && x.ms === 3000),
    ],
    MessageError: ["Idle", (a) => sent(a, 3, 1)],
    NotifMsg: ["Idle", (a) => !has(a, (x) => x.type === "sendNotification")],
    KeepAliveMsg: ["Idle", (a) => sent(a, 5, 1)],
    UpdateMsg: ["Idle", (a) => sent(a, 5, 1)],
    OpenCollisionDump: ["Idle", (a) => sent(a, 6, 7)],
    LocalError: ["Idle", (a) => sent(a, 6, 1)],
  },
  OpenConfirm: {
    ManualStart: ["OpenConfirm"],
    ManualStop: ["Idle", (a) => sent(a, 6, 2)],
    AutomaticStart: ["OpenConfirm"],
    ConnectRetryTimerExpires: ["Idle", (a) => sent(a, 5, 2)],
    HoldTimerExpires: ["Idle", (a) => sent(a, 4, 0)],
    KeepaliveTimerExpires: ["OpenConfirm", (a) => has(a, (x) => x.type === "sendKeepalive")],
    IdleHoldTimerExpires: ["Idle", (a) => sent(a, 5, 2)],
    TcpConnectionConfirmed: ["Idle", (a) => sent(a, 5, 2)],
    TcpConnectionFails: ["Idle", (a) => !has(a, (x) => x.type === "sendNotification")],
    BGPOpen: ["Idle", (a) => sent(a, 5, 2)],
    MessageError: ["Idle", (a) => sent(a, 3, 1)],
    NotifMsg: ["Idle"],
    KeepAliveMsg: ["Established", (a) => has(a, (x) => x.type === "established")],
    UpdateMsg: ["Idle", (a) => sent(a, 5, 2)],
    OpenCollisionDump: ["Idle", (a) => sent(a, 6, 7)],
    LocalError: ["Idle", (a) => sent(a, 6, 1)],
  },
  Established: {
    ManualStart: ["Established"],
    ManualStop: ["Idle", (a) => sent(a, 6, 2) && has(a, (x) => x.type === "sessionDown")],
    AutomaticStart: ["Established"],
    ConnectRetryTimerExpires: ["Idle", (a) => sent(a, 5, 3)],
    HoldTimerExpires: [
      "Idle",
      (a) => sent(a, 4, 0) && has(a, (x) => x.type === "sessionDown"),
    ],
    KeepaliveTimerExpires: ["Established", (a) => has(a, (x) => x.type === "sendKeepalive")],
    IdleHoldTimerExpires: ["Idle", (a) => sent(a, 5, 3)],
    TcpConnectionConfirmed: ["Idle", (a) => sent(a, 5, 3)],
    TcpConnectionFails: ["Idle", (a) => has(a, (x) => x.type === "sessionDown")],
    BGPOpen: ["Idle", (a) => sent(a, 5, 3)],
    MessageError: ["Idle", (a) => sent(a, 3, 1)],
    NotifMsg: ["Idle", (a) => has(a, (x) => x.type === "sessionDown")],
    KeepAliveMsg: [
      "Established",
      (a) => has(a, (x) => x.type === "startTimer" && x.timer === "hold" && x.ms === 9000),
    ],
    UpdateMsg: [
      "Established",
      (a) => has(a, (x) => x.type === "startTimer" && x.timer === "hold"),
    ],
    OpenCollisionDump: ["Idle", (a) => sent(a, 6, 7)],
    LocalError: ["Idle", (a) => sent(a, 6, 1)],
  },
};

Deno.test("fsm: every state x every event gives the RFC 4271 transition", () => {
  let checked = 0;
  for (const state of Object.keys(TABLE) as State[]) {
    for (const event of ALL_EVENTS) {
      const fsm = at(state);
      const actions = fsm.handle(event, 1000);
      const [next, check] = TABLE[state][event.type];
      assert.equal(fsm.state, next, `${state} + ${event.type}`);
      if (check) assert.ok(check(actions), `${state} + ${event.type}: ${JSON.stringify(actions)}`);
      if (next === "Idle" && state !== "Idle") {
        assert.ok(has(actions, (x) => x.type === "close"), `${state} + ${event.type} closes`);
      }
      const changed = actions.filter((x) => x.type === "stateChange");
      assert.equal(changed.length, next === state ? 0 : 1, `${state} + ${event.type}`);
      checked++;
    }
  }
  assert.equal(checked, 6 * ALL_EVENTS.length);
});

Deno.test("fsm: errors schedule an automatic restart through the idle hold timer", () => {
  const fsm = at("Established");
  const a = fsm.handle({ type: "HoldTimerExpires" }, 0);
  const idle = a.find((x) => x.type === "startTimer" && x.timer === "idleHold");
  assert.ok(idle && idle.type === "startTimer");
  assert.equal(idle.ms, 1000); // random 0.5 = no jitter
  assert.equal(fsm.connectRetryCounter, 1);
  const b = fsm.handle({ type: "IdleHoldTimerExpires" }, 1000);
  assert.equal(fsm.state, "Connect");
  assert.ok(has(b, (x) => x.type === "connect"));
});

Deno.test("fsm: a manual stop never restarts, a passive FSM never connects", () => {
  const fsm = at("Established");
  const a = fsm.handle({ type: "ManualStop" }, 0);
  assert.ok(!has(a, (x) => x.type === "startTimer"));
  fsm.handle({ type: "IdleHoldTimerExpires" }, 10);
  assert.equal(fsm.state, "Idle");
  const p = new SessionFsm({ passive: true }, () => 0.5);
  const s = p.handle({ type: "ManualStart" }, 0);
  assert.equal(p.state, "Active");
  assert.ok(!has(s, (x) => x.type === "connect"));
  assert.ok(!has(p.handle({ type: "ConnectRetryTimerExpires" }, 1), (x) => x.type === "connect"));
  assert.equal(p.state, "Active");
  p.handle({ type: "TcpConnectionConfirmed" }, 2);
  assert.equal(p.state, "OpenSent");
  p.handle({ type: "TcpConnectionFails" }, 3);
  assert.equal(p.state, "Active");
});

Deno.test("fsm: hold time 0 means no hold timer and no keepalives", () => {
  const fsm = at("OpenSent");
  const a = fsm.handle(
    { type: "BGPOpen", negotiated: { ...NEG, holdTime: 0, keepaliveTime: 0 } },
    0,
  );
  assert.ok(
    !has(a, (x) => x.type === "startTimer" && (x.timer === "hold" || x.timer === "keepalive")),
  );
  assert.ok(has(a, (x) => x.type === "stopTimer" && x.timer === "hold"));
  const b = fsm.handle({ type: "KeepAliveMsg" }, 1);
  assert.equal(fsm.state, "Established");
  assert.ok(!has(b, (x) => x.type === "startTimer"));
  const c = fsm.handle({ type: "UpdateMsg" }, 2);
  assert.deepEqual(c, []);
});

Deno.test("fsm: OpenSent uses a large hold time until the OPEN arrives", () => {
  const fsm = at("Connect");
  const a = fsm.handle({ type: "TcpConnectionConfirmed" }, 0);
  assert.ok(has(a, (x) => x.type === "startTimer" && x.timer === "hold" && x.ms === 240_000));
});

Deno.test("backoff: doubles, is bounded, jittered and forgotten after a quiet period", () => {
  const b = new IdleBackoff({ initialMs: 1000, maxMs: 8000, quietMs: 60_000, jitter: 0.25 });
  const mid = () => 0.5;
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((i) => b.failure(i * 100, mid)),
    [1000, 2000, 4000, 8000, 8000, 8000],
  );
  assert.equal(b.failure(600 + 60_000, mid), 1000, "forgotten after the quiet period");
  const lo = new IdleBackoff({ initialMs: 1000, jitter: 0.25 }).failure(0, () => 0);
  const hi = new IdleBackoff({ initialMs: 1000, jitter: 0.25 }).failure(0, () => 0.9999);
  assert.equal(lo, 750);
  assert.ok(hi > 1240 && hi <= 1250);
});

Deno.test("fsm: a flapping peer backs off more each time", () => {
  const fsm = at("Established");
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    const a = fsm.handle({ type: "TcpConnectionFails" }, i * 10);
    const t = a.find((x) => x.type === "startTimer" && x.timer === "idleHold");
    assert.ok(t && t.type === "startTimer");
    waits.push(t.ms);
    for (const e of PATH_TO.Established.slice(1)) fsm.handle(e, i * 10);
    fsm.handle({ type: "IdleHoldTimerExpires" }, i * 10);
    for (const e of PATH_TO.Established.slice(1)) fsm.handle(e, i * 10);
    assert.equal(fsm.state, "Established");
  }
  assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16000]);
});

Deno.test("collision: the connection of the higher BGP identifier survives (6.8)", () => {
  assert.equal(collisionKeeps("192.0.2.2", "192.0.2.1"), "outgoing");
  assert.equal(collisionKeeps("192.0.2.1", "192.0.2.2"), "incoming");
  assert.equal(collisionKeeps("10.0.0.1", "9.255.255.255"), "outgoing");
  assert.equal(collisionKeeps("128.0.0.1", "127.0.0.1"), "outgoing"); // unsigned compare
});

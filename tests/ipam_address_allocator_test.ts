import assert from "node:assert/strict";
import fc from "fast-check";
import { BlockAddressAllocator } from "../actors/ipam/address_allocator.ts";
import { Cidr } from "../actors/ipam/cidr.ts";
import { IpAddress } from "../actors/ipam/address.ts";
import {
  AddressNotAllocatedError,
  AddressOutsidePoolsError,
  AddressTakenError,
  PoolExhaustedError,
} from "../actors/ipam/errors.ts";

const ip = (s: string) => IpAddress.parse(s);

Deno.test("ipam addresses: never the network or broadcast address, lowest free first", () => {
  const a = new BlockAddressAllocator(Cidr.parse("198.18.0.0/29"));
  assert.deepEqual(a.reserved.map(String), ["198.18.0.0", "198.18.0.7"]);
  assert.equal(a.capacity, 6);
  const got = [1, 2, 3, 4, 5, 6].map((i) => a.allocate(`c${i}/eth0`).address.toString());
  assert.deepEqual(got, [
    "198.18.0.1",
    "198.18.0.2",
    "198.18.0.3",
    "198.18.0.4",
    "198.18.0.5",
    "198.18.0.6",
  ]);
  assert.throws(() => a.allocate("c7/eth0"), PoolExhaustedError);
  assert.equal(a.release(ip("198.18.0.3")), "c3/eth0");
  // A deleted and recreated pod gets the same lowest address.
  assert.equal(a.allocate("c3b/eth0").address.toString(), "198.18.0.3");
  assert.throws(() => a.allocateSpecific(ip("198.18.0.0"), "x"), AddressOutsidePoolsError);
  assert.throws(() => a.allocateSpecific(ip("198.18.0.7"), "x"), AddressOutsidePoolsError);
  assert.throws(() => a.allocateSpecific(ip("198.18.0.8"), "x"), AddressOutsidePoolsError);
  assert.throws(() => a.allocateSpecific(ip("198.18.0.1"), "x"), (e: unknown) => {
    assert.ok(e instanceof AddressTakenError);
    assert.equal(e.holder, "c1/eth0");
    return true;
  });
  assert.throws(() => a.release(ip("198.18.0.0")), AddressNotAllocatedError);
  assert.equal(a.releaseOwner("nobody"), undefined);

  const v6 = new BlockAddressAllocator(Cidr.parse("fd00:10::/122"));
  assert.deepEqual(v6.reserved.map(String), ["fd00:10::"]); // no broadcast in IPv6
  assert.equal(v6.capacity, 63);
  assert.equal(v6.allocate("c/eth0").address.toString(), "fd00:10::1");
  assert.equal(v6.allocate("d/eth0").address.toString(), "fd00:10::2");

  // Single-address and point-to-point blocks reserve nothing (sart's /32 blocks still work).
  const one = new BlockAddressAllocator(Cidr.parse("198.18.0.9/32"));
  assert.equal(one.allocate("c/eth0").address.toString(), "198.18.0.9");
  const two = new BlockAddressAllocator(Cidr.parse("198.18.0.10/31"));
  assert.equal(two.capacity, 2);
  const none = new BlockAddressAllocator(Cidr.parse("198.18.0.16/28"), { reserve: "none" });
  assert.equal(none.allocate("c/eth0").address.toString(), "198.18.0.16");
});

Deno.test("ipam addresses: idempotent per owner", () => {
  const a = new BlockAddressAllocator(Cidr.parse("198.18.0.0/26"));
  const first = a.allocate("abc/eth0");
  const again = a.allocate("abc/eth0");
  assert.ok(first.created && !again.created);
  assert.ok(first.address.equals(again.address));
  assert.equal(a.used, 1);
  assert.equal(a.allocateSpecific(first.address, "abc/eth0").created, false);
  assert.throws(() => a.allocateSpecific(ip("198.18.0.9"), "abc/eth0"), AddressTakenError);
  assert.equal(a.addressOf("abc/eth0")?.toString(), "198.18.0.1");
  assert.equal(a.ownerOf(ip("198.18.0.1")), "abc/eth0");
});

Deno.test("ipam addresses: restore after restart gives nothing twice", () => {
  const a = new BlockAddressAllocator(Cidr.parse("198.18.0.0/28"));
  const rep = a.restore([
    { address: "198.18.0.5", owner: "p5/eth0" },
    { address: "198.18.0.1", owner: "p1/eth0" },
    { address: "198.18.0.5", owner: "dup/eth0" }, // held twice in the records
    { address: "198.18.0.0", owner: "net/eth0" }, // reserved
    { address: "198.51.100.1", owner: "far/eth0" }, // outside
    { address: "not-an-ip", owner: "bad/eth0" },
  ]);
  assert.deepEqual(rep.restored.map((r) => r.address.toString()), ["198.18.0.5", "198.18.0.1"]);
  assert.equal(rep.conflicts.length, 4);
  assert.deepEqual(rep.conflicts.map((e) => e.code), [
    "address_taken",
    "address_outside_pools",
    "address_outside_pools",
    "invalid_address",
  ]);
  assert.equal(a.allocate("new/eth0").address.toString(), "198.18.0.2");
});

Deno.test("ipam addresses: random operations keep one owner per address and lowest-free order", () => {
  const ops = fc.array(
    fc.oneof(
      fc.record({ op: fc.constant("alloc" as const), owner: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ op: fc.constant("free" as const), owner: fc.integer({ min: 0, max: 40 }) }),
    ),
    { maxLength: 200 },
  );
  fc.assert(fc.property(ops, (list) => {
    const a = new BlockAddressAllocator(Cidr.parse("198.18.0.0/27"));
    const model = new Map<string, number>(); // owner -> offset
    for (const o of list) {
      const owner = `o${o.owner}`;
      if (o.op === "alloc") {
        const used = new Set(model.values());
        let want = -1;
        for (let i = 1; i < 31; i++) {
          if (!used.has(i)) {
            want = i;
            break;
          }
        }
        if (model.has(owner)) want = model.get(owner)!;
        if (want < 0) {
          assert.throws(() => a.allocate(owner), PoolExhaustedError);
          continue;
        }
        const r = a.allocate(owner);
        assert.equal(Number(r.address.value - 0xc6120000n), want);
        model.set(owner, want);
      } else {
        const r = a.releaseOwner(owner);
        assert.equal(r === undefined ? undefined : Number(r.value - 0xc6120000n), model.get(owner));
        model.delete(owner);
      }
      assert.equal(a.used, model.size);
    }
  }));
});

/**
 * A subset of CEL (the Common Expression Language) for CRD `x-kubernetes-validations` rules.
 *
 * Covers what validation rules usually need: literals, `self` and `oldSelf`, field selection,
 * indexing, `has()`, arithmetic, comparison, `in`, `&&`, `||`, `!`, `?:`, lists and maps,
 * `size`, string functions (`startsWith`, `endsWith`, `contains`, `matches`, `split`, `trim`,
 * `lowerAscii`, `upperAscii`, `indexOf`), `int`/`string`/`double` conversions, the macros `all`,
 * `exists`, `exists_one`, `map`, `filter`, and the Kubernetes IP/CIDR library (`isIP`, `ip`,
 * `.family()`, `.isLoopback()`, `isCIDR`, `cidr`, `.ip()`, `.masked()`, `.prefixLength()`,
 * `.containsIP()`, `.containsCIDR()`).
 *
 * Pure. `parseCel` throws {@link CelError} (`code: "parse"`) on syntax errors; `evalCel` throws
 * it with `code: "eval"` for runtime errors (the rule fails) and `code: "unsupported"` for
 * functions outside this subset (the rule is skipped, not failed).
 */

import { formatIpv6Groups } from "../ipam/ipv6_text.ts";

/** A CEL parse/evaluation error. */
export class CelError extends Error {
  /** `parse`, `eval` or `unsupported`. */
  readonly code: "parse" | "eval" | "unsupported";
  /** Build one; the message quotes the offending text. */
  constructor(code: "parse" | "eval" | "unsupported", message: string) {
    super(message);
    this.name = "CelError";
    this.code = code;
  }
}

/** A parsed expression. */
export type CelAst =
  | { k: "lit"; v: unknown }
  | { k: "ident"; name: string }
  | { k: "select"; obj: CelAst; field: string }
  | { k: "index"; obj: CelAst; idx: CelAst }
  | { k: "call"; fn: string; target?: CelAst; args: CelAst[] }
  | { k: "list"; items: CelAst[] }
  | { k: "map"; entries: Array<[CelAst, CelAst]> }
  | { k: "unary"; op: "!" | "-"; x: CelAst }
  | { k: "binary"; op: string; l: CelAst; r: CelAst }
  | { k: "cond"; c: CelAst; t: CelAst; f: CelAst };

type Tok = { t: "num"; v: number } | { t: "str"; v: string } | { t: "id"; v: string } | {
  t: "op";
  v: string;
};

const ops = [
  "==",
  "!=",
  "<=",
  ">=",
  "&&",
  "||",
  "<",
  ">",
  "!",
  "+",
  "-",
  "*",
  "/",
  "%",
  "?",
  ":",
  ".",
  ",",
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
];

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = src.slice(i).match(/^(0x[0-9a-fA-F]+|\d+\.\d+(e[+-]?\d+)?|\d+(e[+-]?\d+)?)u?/)!;
      out.push({ t: "num", v: Number(m[0].replace(/u$/, "")) });
      i += m[0].length;
      continue;
    }
    if (c === "'" || c === '"') {
      let s = "";
      i++;
      while (i < src.length && src[i] !== c) {
        if (src[i] === "\\") {
          const n = src[i + 1];
          s += n === "n" ? "\n" : n === "t" ? "\t" : n === "r" ? "\r" : n;
          i += 2;
        } else s += src[i++];
      }
      if (i >= src.length) throw new CelError("parse", `unterminated string in "${src}"`);
      i++;
      out.push({ t: "str", v: s });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = src.slice(i).match(/^[A-Za-z_][A-Za-z0-9_]*/)!;
      out.push({ t: "id", v: m[0] });
      i += m[0].length;
      continue;
    }
    const op = ops.find((o) => src.startsWith(o, i));
    if (!op) throw new CelError("parse", `unexpected character "${c}" in "${src}"`);
    out.push({ t: "op", v: op });
    i += op.length;
  }
  return out;
}

/** Parse a CEL expression. */
export function parseCel(src: string): CelAst {
  const toks = tokenize(src);
  let p = 0;
  const peek = (v?: string) => {
    const t = toks[p];
    return t && (v === undefined || (t.t === "op" && t.v === v)) ? t : undefined;
  };
  const expect = (v: string) => {
    if (!peek(v)) throw new CelError("parse", `expected "${v}" at token ${p} in "${src}"`);
    p++;
  };
  const isOp = (v: string) => toks[p]?.t === "op" && toks[p].v === v;
  const args = (): CelAst[] => {
    const out: CelAst[] = [];
    expect("(");
    if (!isOp(")")) {
      out.push(expr());
      while (isOp(",")) {
        p++;
        out.push(expr());
      }
    }
    expect(")");
    return out;
  };
  function primary(): CelAst {
    const t = toks[p];
    if (!t) throw new CelError("parse", `unexpected end of "${src}"`);
    p++;
    if (t.t === "num" || t.t === "str") return { k: "lit", v: t.v };
    if (t.t === "id") {
      if (t.v === "true" || t.v === "false") return { k: "lit", v: t.v === "true" };
      if (t.v === "null") return { k: "lit", v: null };
      if (isOp("(")) return { k: "call", fn: t.v, args: args() };
      return { k: "ident", name: t.v };
    }
    if (t.v === "(") {
      const e = expr();
      expect(")");
      return e;
    }
    if (t.v === "[") {
      const items: CelAst[] = [];
      if (!isOp("]")) {
        items.push(expr());
        while (isOp(",")) {
          p++;
          if (isOp("]")) break;
          items.push(expr());
        }
      }
      expect("]");
      return { k: "list", items };
    }
    if (t.v === "{") {
      const entries: Array<[CelAst, CelAst]> = [];
      if (!isOp("}")) {
        for (;;) {
          const key = expr();
          expect(":");
          entries.push([key, expr()]);
          if (!isOp(",")) break;
          p++;
        }
      }
      expect("}");
      return { k: "map", entries };
    }
    throw new CelError("parse", `unexpected "${t.v}" in "${src}"`);
  }
  function member(): CelAst {
    let e = primary();
    for (;;) {
      if (isOp(".")) {
        p++;
        const id = toks[p++];
        if (!id || id.t !== "id") throw new CelError("parse", `expected a field name in "${src}"`);
        if (isOp("(")) e = { k: "call", fn: id.v, target: e, args: args() };
        else e = { k: "select", obj: e, field: id.v };
      } else if (isOp("[")) {
        p++;
        const idx = expr();
        expect("]");
        e = { k: "index", obj: e, idx };
      } else return e;
    }
  }
  function unary(): CelAst {
    if (isOp("!")) {
      p++;
      return { k: "unary", op: "!", x: unary() };
    }
    if (isOp("-")) {
      p++;
      return { k: "unary", op: "-", x: unary() };
    }
    return member();
  }
  const level = (next: () => CelAst, names: string[]) => (): CelAst => {
    let l = next();
    for (;;) {
      const t = toks[p];
      const op = t &&
          ((t.t === "op" && names.includes(t.v)) ||
            (t.t === "id" && t.v === "in" && names.includes("in")))
        ? t.v
        : undefined;
      if (!op) return l;
      p++;
      l = { k: "binary", op, l, r: next() };
    }
  };
  const mul = level(unary, ["*", "/", "%"]);
  const add = level(mul, ["+", "-"]);
  const rel = level(add, ["<", "<=", ">", ">=", "==", "!=", "in"]);
  const and = level(rel, ["&&"]);
  const or = level(and, ["||"]);
  function expr(): CelAst {
    const c = or();
    if (isOp("?")) {
      p++;
      const t = expr();
      expect(":");
      return { k: "cond", c, t, f: expr() };
    }
    return c;
  }
  const e = expr();
  if (p < toks.length) throw new CelError("parse", `unexpected trailing input in "${src}"`);
  return e;
}

/** An IP address value (from `ip()`). */
export class CelIP {
  /** Build from bytes (4 or 16). */
  constructor(readonly bytes: number[]) {}
  /** 4 or 6. */
  get family(): number {
    return this.bytes.length === 4 ? 4 : 6;
  }
  /** Canonical text. */
  toString(): string {
    if (this.bytes.length === 4) return this.bytes.join(".");
    const groups: number[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(this.bytes[i] * 256 + this.bytes[i + 1]);
    return formatIpv6Groups(groups);
  }
}

/** A CIDR value (from `cidr()`). */
export class CelCIDR {
  /** Address and prefix length. */
  constructor(readonly ip: CelIP, readonly prefix: number) {}
  /** The prefix with host bits cleared. */
  masked(): CelCIDR {
    const b = [...this.ip.bytes];
    for (let i = 0; i < b.length; i++) {
      const bits = Math.max(0, Math.min(8, this.prefix - i * 8));
      b[i] &= bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff;
    }
    return new CelCIDR(new CelIP(b), this.prefix);
  }
  /** Does the prefix contain `ip`? */
  contains(ip: CelIP): boolean {
    if (ip.bytes.length !== this.ip.bytes.length) return false;
    const a = this.masked().ip.bytes;
    const m = new CelCIDR(ip, this.prefix).masked().ip.bytes;
    return a.every((x, i) => x === m[i]);
  }
  /** Canonical text. */
  toString(): string {
    return `${this.ip}/${this.prefix}`;
  }
}

/** Parse an IP address (no zones, no IPv4-mapped forms), or undefined. */
export function parseIP(s: string): CelIP | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    const parts = s.split(".").map(Number);
    if (parts.some((x, i) => x > 255 || String(x) !== s.split(".")[i])) return undefined;
    return new CelIP(parts);
  }
  if (!/^[0-9a-fA-F:]+$/.test(s) || !s.includes(":")) return undefined;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const parse = (h: string) => h === "" ? [] : h.split(":");
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  if ([...head, ...tail].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 2 && missing < 1) || (halves.length === 1 && missing !== 0)) {
    return undefined;
  }
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail].map((
    g,
  ) => parseInt(g, 16));
  return new CelIP(groups.flatMap((g) => [g >> 8, g & 255]));
}

/** Parse a CIDR, or undefined. */
export function parseCIDR(s: string): CelCIDR | undefined {
  const m = s.match(/^(.+)\/(\d{1,3})$/);
  if (!m) return undefined;
  const ip = parseIP(m[1]);
  const prefix = Number(m[2]);
  if (!ip || prefix > ip.bytes.length * 8 || String(prefix) !== m[2]) return undefined;
  return new CelCIDR(ip, prefix);
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "list";
  if (v instanceof CelIP) return "net.IP";
  if (v instanceof CelCIDR) return "net.CIDR";
  if (typeof v === "object") return "map";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "double";
  return typeof v;
}

function fail(msg: string): never {
  throw new CelError("eval", msg);
}

function celEqual(a: unknown, b: unknown): boolean {
  if (a instanceof CelIP || a instanceof CelCIDR || b instanceof CelIP || b instanceof CelCIDR) {
    return String(a) === String(b) && typeName(a) === typeName(b);
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => celEqual(x, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a as object);
    const kb = Object.keys(b as object);
    return ka.length === kb.length &&
      ka.every((k) =>
        celEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
      );
  }
  return a === b;
}

function str(v: unknown, fn: string): string {
  if (typeof v !== "string") fail(`no such overload: ${fn}(${typeName(v)})`);
  return v;
}

function num(v: unknown, op: string): number {
  if (typeof v !== "number") fail(`no such overload: ${op} on ${typeName(v)}`);
  return v;
}

type Env = Record<string, unknown>;

const macros = new Set(["all", "exists", "exists_one", "map", "filter"]);

/** Evaluate a parsed expression with variables (`self`, `oldSelf`). */
export function evalCel(ast: CelAst, env: Env): unknown {
  const ev = (a: CelAst): unknown => evalCel(a, env);
  switch (ast.k) {
    case "lit":
      return ast.v;
    case "ident":
      if (!(ast.name in env)) fail(`undeclared reference to '${ast.name}'`);
      return env[ast.name];
    case "select": {
      const o = ev(ast.obj);
      if (!o || typeof o !== "object" || Array.isArray(o)) fail(`no such key: ${ast.field}`);
      const v = (o as Record<string, unknown>)[ast.field];
      if (v === undefined) fail(`no such key: ${ast.field}`);
      return v;
    }
    case "index": {
      const o = ev(ast.obj);
      const i = ev(ast.idx);
      if (Array.isArray(o)) {
        const n = num(i, "index");
        if (n < 0 || n >= o.length) fail(`index out of range: ${n}`);
        return o[n];
      }
      if (o && typeof o === "object") {
        const v = (o as Record<string, unknown>)[String(i)];
        if (v === undefined) fail(`no such key: ${String(i)}`);
        return v;
      }
      return fail(`no such overload: index on ${typeName(o)}`);
    }
    case "list":
      return ast.items.map(ev);
    case "map":
      return Object.fromEntries(ast.entries.map(([k, v]) => [String(ev(k)), ev(v)]));
    case "unary": {
      const x = ev(ast.x);
      if (ast.op === "!") {
        if (typeof x !== "boolean") fail(`no such overload: !${typeName(x)}`);
        return !x;
      }
      return -num(x, "-");
    }
    case "cond": {
      const c = ev(ast.c);
      if (typeof c !== "boolean") fail(`no such overload: ?: on ${typeName(c)}`);
      return c ? ev(ast.t) : ev(ast.f);
    }
    case "binary":
      return binary(ast.op, ast.l, ast.r, env);
    case "call":
      return call(ast, env);
  }
}

function binary(op: string, la: CelAst, ra: CelAst, env: Env): unknown {
  if (op === "&&" || op === "||") {
    // CEL's commutative logic: an error on one side is absorbed when the other decides.
    let l: unknown;
    let lErr: unknown;
    try {
      l = evalCel(la, env);
    } catch (e) {
      if (e instanceof CelError && e.code === "unsupported") throw e;
      lErr = e;
    }
    if (lErr === undefined && typeof l === "boolean" && (op === "&&" ? !l : l)) return l;
    const r = evalCel(ra, env);
    if (typeof r !== "boolean") fail(`no such overload: ${op} on ${typeName(r)}`);
    if (op === "&&" ? !r : r) return r;
    if (lErr !== undefined) throw lErr;
    if (typeof l !== "boolean") fail(`no such overload: ${op} on ${typeName(l)}`);
    return l;
  }
  const l = evalCel(la, env);
  const r = evalCel(ra, env);
  switch (op) {
    case "==":
      return celEqual(l, r);
    case "!=":
      return !celEqual(l, r);
    case "in":
      if (Array.isArray(r)) return r.some((x) => celEqual(x, l));
      if (r && typeof r === "object") return Object.hasOwn(r, String(l));
      return fail(`no such overload: in ${typeName(r)}`);
    case "<":
    case "<=":
    case ">":
    case ">=": {
      if (typeof l !== typeof r || (typeof l !== "number" && typeof l !== "string")) {
        fail(`no such overload: ${typeName(l)} ${op} ${typeName(r)}`);
      }
      const a = l as number | string;
      const b = r as number | string;
      return op === "<" ? a < b : op === "<=" ? a <= b : op === ">" ? a > b : a >= b;
    }
    case "+":
      if (typeof l === "string" && typeof r === "string") return l + r;
      if (Array.isArray(l) && Array.isArray(r)) return [...l, ...r];
      return num(l, "+") + num(r, "+");
    case "-":
      return num(l, "-") - num(r, "-");
    case "*":
      return num(l, "*") * num(r, "*");
    case "/": {
      const d = num(r, "/");
      if (d === 0) fail("division by zero");
      const q = num(l, "/") / d;
      return Number.isInteger(l) && Number.isInteger(r) ? Math.trunc(q) : q;
    }
    case "%": {
      const d = num(r, "%");
      if (d === 0) fail("modulus by zero");
      return num(l, "%") % d;
    }
  }
  return fail(`unknown operator ${op}`);
}

function size(v: unknown): number {
  if (typeof v === "string") return [...v].length;
  if (Array.isArray(v)) return v.length;
  if (v && typeof v === "object" && !(v instanceof CelIP) && !(v instanceof CelCIDR)) {
    return Object.keys(v).length;
  }
  return fail(`no such overload: size(${typeName(v)})`);
}

function call(ast: Extract<CelAst, { k: "call" }>, env: Env): unknown {
  const { fn, target, args } = ast;
  if (fn === "has" && !target) {
    const a = args[0];
    if (args.length !== 1 || a.k !== "select") {
      throw new CelError("parse", "has() takes a field selection");
    }
    const o = evalCel(a.obj, env);
    return !!o && typeof o === "object" && !Array.isArray(o) &&
      (o as Record<string, unknown>)[a.field] !== undefined;
  }
  if (target && macros.has(fn)) {
    const list = evalCel(target, env);
    const v = args[0];
    if (args.length !== 2 || v.k !== "ident") {
      throw new CelError("parse", `${fn}() takes a variable and an expression`);
    }
    const items = Array.isArray(list)
      ? list
      : list && typeof list === "object"
      ? Object.keys(list)
      : fail(`no such overload: ${fn} on ${typeName(list)}`);
    const body = (x: unknown) => evalCel(args[1], { ...env, [v.name]: x });
    switch (fn) {
      case "all":
        return items.every((x) => body(x) === true);
      case "exists":
        return items.some((x) => body(x) === true);
      case "exists_one":
        return items.filter((x) => body(x) === true).length === 1;
      case "map":
        return items.map(body);
      case "filter":
        return items.filter((x) => body(x) === true);
    }
  }
  const t = target ? evalCel(target, env) : undefined;
  const a = args.map((x) => evalCel(x, env));
  switch (fn) {
    case "size":
      return size(target ? t : a[0]);
    case "startsWith":
      return str(t, fn).startsWith(str(a[0], fn));
    case "endsWith":
      return str(t, fn).endsWith(str(a[0], fn));
    case "contains":
      return str(t, fn).includes(str(a[0], fn));
    case "matches": {
      const s = str(target ? t : a[0], fn);
      const re = str(target ? a[0] : a[1], fn);
      try {
        return new RegExp(re, "u").test(s);
      } catch {
        return fail(`invalid regular expression "${re}"`);
      }
    }
    case "split":
      return str(t, fn).split(str(a[0], fn));
    case "trim":
      return str(t, fn).trim();
    case "lowerAscii":
      return str(t, fn).toLowerCase();
    case "upperAscii":
      return str(t, fn).toUpperCase();
    case "indexOf":
      return str(t, fn).indexOf(str(a[0], fn));
    case "join":
      if (!Array.isArray(t)) return fail(`no such overload: join on ${typeName(t)}`);
      return t.map(String).join(a.length ? str(a[0], fn) : "");
    case "int": {
      const v = a[0];
      if (typeof v === "number") return Math.trunc(v);
      if (typeof v === "string" && /^-?\d+$/.test(v)) return Number(v);
      return fail(`cannot convert ${JSON.stringify(v)} to int`);
    }
    case "double": {
      const n = Number(a[0]);
      return Number.isNaN(n) ? fail(`cannot convert ${JSON.stringify(a[0])} to double`) : n;
    }
    case "string":
      return a[0] instanceof CelIP || a[0] instanceof CelCIDR
        ? String(a[0])
        : typeof a[0] === "string"
        ? a[0]
        : JSON.stringify(a[0]);
    case "isIP":
      return parseIP(str(a[0], fn)) !== undefined;
    case "isCIDR":
      return parseCIDR(str(a[0], fn)) !== undefined;
    case "ip": {
      if (!target) {
        return parseIP(str(a[0], fn)) ??
          fail(`IP Address "${a[0]}" parse error during conversion from string`);
      }
      if (t instanceof CelCIDR) return t.ip;
      return fail(`no such overload: ip on ${typeName(t)}`);
    }
    case "cidr":
      return parseCIDR(str(a[0], fn)) ??
        fail(`network address parse error during conversion from string: "${a[0]}"`);
    case "family":
      if (t instanceof CelIP) return t.family;
      return fail(`no such overload: family on ${typeName(t)}`);
    case "isLoopback":
      if (t instanceof CelIP) return t.family === 4 ? t.bytes[0] === 127 : String(t) === "::1";
      return fail(`no such overload: isLoopback on ${typeName(t)}`);
    case "masked":
      if (t instanceof CelCIDR) return t.masked();
      return fail(`no such overload: masked on ${typeName(t)}`);
    case "prefixLength":
      if (t instanceof CelCIDR) return t.prefix;
      return fail(`no such overload: prefixLength on ${typeName(t)}`);
    case "containsIP": {
      if (!(t instanceof CelCIDR)) return fail(`no such overload: containsIP on ${typeName(t)}`);
      const ip = a[0] instanceof CelIP ? a[0] : parseIP(str(a[0], fn));
      return ip ? t.contains(ip) : fail(`IP Address "${a[0]}" parse error`);
    }
    case "containsCIDR": {
      if (!(t instanceof CelCIDR)) return fail(`no such overload: containsCIDR on ${typeName(t)}`);
      const c = a[0] instanceof CelCIDR ? a[0] : parseCIDR(str(a[0], fn));
      return c
        ? c.prefix >= t.prefix && t.contains(c.ip)
        : fail(`network address "${a[0]}" parse error`);
    }
  }
  throw new CelError("unsupported", `function "${fn}" is not supported by the embedded API server`);
}

/** Names of functions a parsed rule calls that this subset does not implement. */
export function unsupportedFunctions(ast: CelAst): string[] {
  const known = new Set([
    "has",
    "size",
    "startsWith",
    "endsWith",
    "contains",
    "matches",
    "split",
    "trim",
    "lowerAscii",
    "upperAscii",
    "indexOf",
    "join",
    "int",
    "double",
    "string",
    "isIP",
    "isCIDR",
    "ip",
    "cidr",
    "family",
    "isLoopback",
    "masked",
    "prefixLength",
    "containsIP",
    "containsCIDR",
    ...macros,
  ]);
  const out = new Set<string>();
  const walk = (a: CelAst): void => {
    switch (a.k) {
      case "select":
        walk(a.obj);
        break;
      case "index":
        walk(a.obj);
        walk(a.idx);
        break;
      case "call":
        if (!known.has(a.fn)) out.add(a.fn);
        if (a.target) walk(a.target);
        a.args.forEach(walk);
        break;
      case "list":
        a.items.forEach(walk);
        break;
      case "map":
        a.entries.forEach(([k, v]) => {
          walk(k);
          walk(v);
        });
        break;
      case "unary":
        walk(a.x);
        break;
      case "binary":
        walk(a.l);
        walk(a.r);
        break;
      case "cond":
        walk(a.c);
        walk(a.t);
        walk(a.f);
        break;
    }
  };
  walk(ast);
  return [...out];
}

/** True when the expression refers to `oldSelf` (a transition rule). */
export function usesOldSelf(ast: CelAst): boolean {
  return JSON.stringify(ast).includes('"name":"oldSelf"');
}

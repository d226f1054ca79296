#!/usr/bin/env python3
"""OSCORE interop between oscore-proxy and aiocoap, both directions, on loopback.

Context material: RFC 8613 Appendix C.1 (C.1.1 client, C.1.2 server), read
from test-vectors/rfc8613_appendix_c.json. Cases:

  A: oscore-proxy client  -> aiocoap server
  B: aiocoap client       -> oscore-proxy server

each with GET /hello, POST /echo, GET /large (Block2), Observe (3
notifications), and the error behaviour of RFC 8613 §8.2: unknown kid
(4.01), decryption failure (4.00), replayed request (4.01). Every case
prints PASS/FAIL; the last line is "N passed, M failed"; the exit status is
non-zero on any failure. Run through interop/run.sh.
"""

import argparse
import asyncio
import json
import logging
import os
import re
import shutil
import socket
import sys
import time

import aiocoap
import aiocoap.resource as resource
from aiocoap import Message, GET, POST, CHANGED, CONTENT
from aiocoap.credentials import CredentialsMap
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper

CASE_TIMEOUT = 40.0
LARGE = b"".join(b"%04d," % i for i in range(600))
ECHO_PAYLOAD = b"interop echo \xe2\x9c\x93"

results = []


def report(name, ok, detail=""):
    results.append(ok)
    print(("PASS" if ok else "FAIL") + f"  {name}" + (f"  ({detail})" if detail else ""), flush=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def load_c1(path):
    with open(path) as f:
        doc = json.load(f)
    by_section = {e["section"]: e["inputs"] for e in doc["key_derivation"]}
    return by_section["C.1.1"], by_section["C.1.2"]


def write_toml(path, inp, *, sender=None, secret=None, state_dir=None):
    lines = [
        "[context]",
        f'master_secret = "{secret or inp["master_secret"]}"',
        f'master_salt = "{inp["master_salt"]}"',
        f'sender_id = "{inp["sender_id"] if sender is None else sender}"',
        f'recipient_id = "{inp["recipient_id"]}"',
        f'aead = {inp["alg_aead"]}',
        f'hkdf = {inp["kdf_cose_alg"]}',
    ]
    if inp["id_context"] is not None:
        lines.append(f'id_context = "{inp["id_context"]}"')
    if state_dir:
        lines.append(f'state_dir = "{state_dir}"')
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def write_aiocoap_ctx(basedir, inp, *, sender=None, secret=None, next_to_send=None):
    os.makedirs(basedir, exist_ok=True)
    if next_to_send is not None:
        with open(os.path.join(basedir, "sequence.json"), "w") as f:
            json.dump({"next-to-send": next_to_send, "received": "unknown"}, f)
    settings = {
        "sender-id_hex": inp["sender_id"] if sender is None else sender,
        "recipient-id_hex": inp["recipient_id"],
        "secret_hex": secret or inp["master_secret"],
        "salt_hex": inp["master_salt"],
        "algorithm": inp["alg_aead_name"],
        "kdf-hashfun": "sha256",
    }
    if inp["id_context"] is not None:
        settings["id-context_hex"] = inp["id_context"]
    with open(os.path.join(basedir, "settings.json"), "w") as f:
        json.dump(settings, f)
    return basedir


# ---------------------------------------------------------------- aiocoap server


class Hello(resource.Resource):
    async def render_get(self, request):
        return Message(code=CONTENT, payload=b"Hello World!", content_format=0)


class Echo(resource.Resource):
    async def render_post(self, request):
        return Message(code=CHANGED, payload=request.payload)


class Large(resource.Resource):
    async def render_get(self, request):
        return Message(code=CONTENT, payload=LARGE, content_format=0)


class Counter(resource.ObservableResource):
    def __init__(self):
        super().__init__()
        self.value = 0
        self.task = None

    def start(self):
        self.task = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self):
        while True:
            await asyncio.sleep(1.0)
            self.value += 1
            self.updated_state()

    async def render_get(self, request):
        return Message(code=CONTENT, payload=str(self.value).encode(), content_format=0)


async def start_aiocoap_server(port, ctxdir):
    site = resource.Site()
    site.add_resource(["hello"], Hello())
    site.add_resource(["echo"], Echo())
    site.add_resource(["large"], Large())
    counter = Counter()
    site.add_resource(["observe"], counter)
    creds = CredentialsMap()
    creds.load_from_dict({":ourclient": {"oscore": {"basedir": ctxdir}}})
    ctx = await aiocoap.Context.create_server_context(
        OscoreSiteWrapper(site, creds), bind=("127.0.0.1", port), transports=["udp6"]
    )
    counter.start()
    return ctx, counter


# ---------------------------------------------------------------- replay relay


class Relay(asyncio.DatagramProtocol):
    """Forwards client <-> server datagrams and remembers the first request,
    so that it can be replayed later (with a new Message ID, so that the
    server's deduplication does not answer it from its cache)."""

    def __init__(self, server_addr):
        self.server_addr = server_addr
        self.client_addr = None
        self.first_request = None
        self.upstream = None
        self.transport = None
        self.replay_answer = None
        self.from_server_log = []

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if self.client_addr is None:
            self.client_addr = addr
        if addr == self.client_addr:
            if self.first_request is None and len(data) > 4 and 1 <= data[1] <= 31:
                self.first_request = data
            self.upstream.transport.sendto(data, self.server_addr)

    def from_server(self, data):
        self.from_server_log.append(data)
        if self.replay_answer is not None and not self.replay_answer.done():
            self.replay_answer.set_result(data)
            return
        if self.client_addr is not None:
            self.transport.sendto(data, self.client_addr)

    async def replay(self):
        loop = asyncio.get_running_loop()
        self.replay_answer = loop.create_future()
        data = bytearray(self.first_request)
        mid = (int.from_bytes(data[2:4], "big") + 0x1234) & 0xFFFF
        data[2:4] = mid.to_bytes(2, "big")
        self.upstream.transport.sendto(bytes(data), self.server_addr)
        return await asyncio.wait_for(self.replay_answer, 10)


class Upstream(asyncio.DatagramProtocol):
    def __init__(self, relay):
        self.relay = relay
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.relay.from_server(data)


async def start_relay(server_port):
    loop = asyncio.get_running_loop()
    relay = Relay(("127.0.0.1", server_port))
    _, _ = await loop.create_datagram_endpoint(lambda: relay, local_addr=("127.0.0.1", 0))
    up = Upstream(relay)
    await loop.create_datagram_endpoint(lambda: up, local_addr=("127.0.0.1", 0))
    relay.upstream = up
    return relay, relay.transport.get_extra_info("sockname")[1]


def code_of(datagram):
    c = datagram[1]
    return f"{c >> 5}.{c & 0x1f:02d}"


# ---------------------------------------------------------------- helpers


async def run_binary(binary, *args, timeout=CASE_TIMEOUT):
    proc = await asyncio.create_subprocess_exec(
        binary, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return None, b"", b"timeout"
    return proc.returncode, out, err


async def aiocoap_client(uri_base, ctxdir):
    ctx = await aiocoap.Context.create_client_context()
    ctx.client_credentials.load_from_dict({uri_base + "/*": {"oscore": {"basedir": ctxdir}}})
    return ctx


def has_oscore_option(datagram):
    """Whether a CoAP datagram carries option 9 (a small parser, enough for
    the responses seen here)."""
    tkl = datagram[0] & 0x0F
    i, number = 4 + tkl, 0
    while i < len(datagram) and datagram[i] != 0xFF:
        delta, length = datagram[i] >> 4, datagram[i] & 0x0F
        i += 1
        if delta == 13:
            delta, i = datagram[i] + 13, i + 1
        elif delta == 14:
            delta, i = int.from_bytes(datagram[i:i + 2], "big") + 269, i + 2
        if length == 13:
            length, i = datagram[i] + 13, i + 1
        elif length == 14:
            length, i = int.from_bytes(datagram[i:i + 2], "big") + 269, i + 2
        number += delta
        if number == 9:
            return True
        i += length
    return False


def error_text(exc):
    return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------- direction A


async def direction_a(binary, work, client_in, server_in):
    port = free_port()
    sdir = write_aiocoap_ctx(os.path.join(work, "aiocoap-server"), server_in)
    server_ctx, counter = await start_aiocoap_server(port, sdir)
    base = f"coap://127.0.0.1:{port}"
    conf = os.path.join(work, "client.toml")
    write_toml(conf, client_in, state_dir=os.path.join(work, "state-client"))
    try:
        rc, out, err = await run_binary(binary, "client", "--context", conf, base + "/hello")
        report("A1 oscore-proxy client -> aiocoap server: GET /hello",
               rc == 0 and out == b"Hello World!\n", f"rc={rc} out={out[:40]!r} err={err[-200:]!r}")

        rc, out, err = await run_binary(binary, "client", "--context", conf, "--method", "POST",
                                        "--payload", ECHO_PAYLOAD.decode(), base + "/echo")
        report("A2 oscore-proxy client -> aiocoap server: POST /echo",
               rc == 0 and out == ECHO_PAYLOAD + b"\n", f"rc={rc} out={out[:40]!r} err={err[-200:]!r}")

        rc, out, err = await run_binary(binary, "client", "--context", conf, base + "/large")
        report("A3 oscore-proxy client -> aiocoap server: GET /large (Block2)",
               rc == 0 and out == LARGE + b"\n", f"rc={rc} len={len(out)} err={err[-200:]!r}")

        rc, out, err = await run_binary(binary, "client", "--context", conf, "--observe", "3",
                                        base + "/observe")
        lines = out.decode(errors="replace").split()
        ok = rc == 0 and len(lines) == 3 and all(l.isdigit() for l in lines) \
            and [int(l) for l in lines] == sorted(set(int(l) for l in lines))
        report("A4 oscore-proxy client -> aiocoap server: Observe, 3 notifications",
               ok, f"rc={rc} lines={lines} err={err[-200:]!r}")

        bad = os.path.join(work, "client-unknown-kid.toml")
        write_toml(bad, client_in, sender="05", state_dir=os.path.join(work, "state-bad1"))
        rc, out, err = await run_binary(binary, "client", "--context", bad, base + "/hello")
        report("A5 aiocoap server on an unknown kid answers 4.01",
               rc == 1 and b"4.01" in err, f"rc={rc} err={err.strip()[-200:]!r}")

        bad = os.path.join(work, "client-wrong-secret.toml")
        write_toml(bad, client_in, secret="ff" * 16, state_dir=os.path.join(work, "state-bad2"))
        rc, out, err = await run_binary(binary, "client", "--context", bad, base + "/hello")
        report("A6 aiocoap server on a decryption failure answers 4.00",
               rc == 1 and b"4.00" in err, f"rc={rc} err={err.strip()[-200:]!r}")

        relay, rport = await start_relay(port)
        rc, out, err = await run_binary(binary, "client", "--context", conf,
                                        f"coap://127.0.0.1:{rport}/hello")
        answer = await relay.replay() if relay.first_request else None
        report("A7 aiocoap server on a replayed request answers 4.01",
               rc == 0 and answer is not None and code_of(answer) == "4.01",
               f"rc={rc} replay answer={code_of(answer) if answer else None} "
               f"payload={answer[-20:] if answer else None!r}")
        relay.transport.close()
        relay.upstream.transport.close()
    finally:
        counter.task.cancel()
        await server_ctx.shutdown()


# ---------------------------------------------------------------- direction B


async def start_our_server(binary, conf, log):
    proc = await asyncio.create_subprocess_exec(
        binary, "server", "--context", conf, "--bind", "127.0.0.1:0",
        stdout=asyncio.subprocess.PIPE, stderr=log,
    )
    line = await asyncio.wait_for(proc.stdout.readline(), 20)
    m = re.match(rb"listening on (\S+)", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, m.group(1).decode()


async def direction_b(binary, work, client_in, server_in):
    conf = os.path.join(work, "server.toml")
    write_toml(conf, server_in)
    log_path = os.path.join(work, "server.log")
    log = open(log_path, "wb")
    proc, addr = await start_our_server(binary, conf, log)
    base = f"coap://{addr}"
    cdir = write_aiocoap_ctx(os.path.join(work, "aiocoap-client"), client_in)
    ctx = await aiocoap_client(base, cdir)
    try:
        def echo_seen():
            log.flush()
            with open(log_path, "rb") as f:
                return b"replay window re-established with Echo" in f.read()

        async def case(name, coro, check):
            try:
                res = await asyncio.wait_for(coro, CASE_TIMEOUT)
                ok, detail = check(res)
            except Exception as e:  # noqa: BLE001 - every failure is a FAIL line
                ok, detail = False, error_text(e)
            report(name, ok, detail)

        await case("B1 aiocoap client -> oscore-proxy server: GET /hello (after Echo recovery)",
                   ctx.request(Message(code=GET, uri=base + "/hello")).response,
                   lambda r: (r.code == CONTENT and r.payload == b"Hello World!" and echo_seen(),
                              f"{r.code} {r.payload[:40]!r} echo recovery logged={echo_seen()}"))
        await case("B2 aiocoap client -> oscore-proxy server: POST /echo",
                   ctx.request(Message(code=POST, uri=base + "/echo", payload=ECHO_PAYLOAD)).response,
                   lambda r: (r.code.is_successful() and r.payload == ECHO_PAYLOAD, f"{r.code} {r.payload[:40]!r}"))
        await case("B3 aiocoap client -> oscore-proxy server: GET /large (Block2)",
                   ctx.request(Message(code=GET, uri=base + "/large")).response,
                   lambda r: (r.code == CONTENT and r.payload == LARGE, f"{r.code} len={len(r.payload)}"))

        async def observe():
            req = ctx.request(Message(code=GET, uri=base + "/observe", observe=0))
            first = await req.response
            values = [first.payload]
            async for n in req.observation:
                values.append(n.payload)
                if len(values) == 3:
                    req.observation.cancel()
                    break
            return first, values

        def check_obs(res):
            first, values = res
            nums = [int(v) for v in values]
            ok = first.opt.observe is not None and len(nums) == 3 and nums == sorted(set(nums))
            return ok, f"values={values}"

        await case("B4 aiocoap client -> oscore-proxy server: Observe, 3 notifications", observe(), check_obs)

        # aiocoap's client turns an unprotected error response into a
        # NotAProtectedMessage exception without its code, so the answer is
        # read off the wire through a relay.
        for name, kwargs, want in (
            ("B5 oscore-proxy server on an unknown kid answers 4.01", {"sender": "05"}, "4.01"),
            # Above the replay window: our server checks replay before it decrypts.
            ("B6 oscore-proxy server on a decryption failure answers 4.00",
             {"secret": "ff" * 16, "next_to_send": 100000}, "4.00"),
        ):
            relay, rport = await start_relay(int(addr.rsplit(":", 1)[1]))
            rbase = f"coap://127.0.0.1:{rport}"
            bdir = write_aiocoap_ctx(os.path.join(work, "aiocoap-bad-" + want), client_in, **kwargs)
            bctx = await aiocoap_client(rbase, bdir)

            async def bad_request(c=bctx, rbase=rbase, relay=relay):
                try:
                    r = await c.request(Message(code=GET, uri=rbase + "/hello")).response
                    text = f"aiocoap got {r.code}"
                except Exception as e:  # noqa: BLE001
                    text = "aiocoap raised " + error_text(e)
                return text, list(relay.from_server_log)

            def check_bad(res, want=want):
                text, wire = res
                answers = [(code_of(d), has_oscore_option(d), d[-28:]) for d in wire]
                ok = any(c == want and not prot for c, prot, _ in answers)
                return ok, f"wire={answers} {text[:80]}"

            await case(name, bad_request(), check_bad)
            await bctx.shutdown()
            relay.transport.close()
            relay.upstream.transport.close()

        relay, rport = await start_relay(int(addr.rsplit(":", 1)[1]))
        rbase = f"coap://127.0.0.1:{rport}"
        # The same security context object (it holds the sequence number) for
        # the relay's address.
        ctx.client_credentials[rbase + "/*"] = ctx.client_credentials[base + "/*"]

        async def replay():
            r = await ctx.request(Message(code=GET, uri=rbase + "/hello")).response
            answer = await relay.replay()
            return r, answer

        await case("B7 oscore-proxy server on a replayed request answers 4.01", replay(),
                   lambda res: (res[0].code == CONTENT and code_of(res[1]) == "4.01",
                                f"first={res[0].code} replay answer={code_of(res[1])} payload={res[1][-16:]!r}"))
        relay.transport.close()
        relay.upstream.transport.close()
    finally:
        await ctx.shutdown()
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            proc.kill()
        log.close()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--vectors", required=True)
    ap.add_argument("--work", required=True, help="scratch directory, emptied first")
    args = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG if os.environ.get("INTEROP_DEBUG") else logging.CRITICAL)
    client_in, server_in = load_c1(args.vectors)
    # Emptied at the start, not at the end: aiocoap's security contexts
    # write their sequence files when they are garbage-collected.
    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    started = time.monotonic()
    for direction in (direction_a, direction_b):
        try:
            await direction(args.binary, work, client_in, server_in)
        except Exception as e:  # noqa: BLE001
            report(f"{direction.__name__} setup", False, error_text(e))
    passed = sum(1 for r in results if r)
    failed = len(results) - passed
    print(f"interop finished in {time.monotonic() - started:.1f} s (aiocoap {aiocoap.meta.version})")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

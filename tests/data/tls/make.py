#!/usr/bin/env python3
"""Makes the TLS record fixtures of src/transform/tls/crypto.rs from real OpenSSL.

For each case: a handshake between Python `ssl` client and server over memory BIOs (no
sockets), a few application writes each way, and one JSON file:

    {"name", "version", "suite", "keylog": NSS key log lines,
     "client": hex of every byte the client wrote, "server": … the server wrote,
     "client_plain": hex of the application bytes the client sent, "server_plain": …}

A throwaway self-signed certificate is made with the `openssl` CLI in a temporary folder
and not kept. TLS 1.3 suites cannot be chosen from Python, so each TLS 1.3 case runs in a
child process with an OPENSSL_CONF that sets `Ciphersuites`.

Run from anywhere: python3 tests/data/tls/make.py  (rewrites tests/data/tls/*.json)
"""

import json
import os
import ssl
import subprocess
import sys
import tempfile
import warnings

# TLS 1.0 and 1.1 are deprecated; making fixtures of them is the point.
warnings.filterwarnings("ignore", category=DeprecationWarning)

HERE = os.path.dirname(os.path.abspath(__file__))
SSL_OP_NO_ENCRYPT_THEN_MAC = 0x80000

# name, TLS version, TLS 1.3 suite or TLS 1.2 cipher string, client options, a big write?
CASES = [
    ("tls13-aes128gcm", "1.3", "TLS_AES_128_GCM_SHA256", 0, True),
    ("tls13-aes256gcm", "1.3", "TLS_AES_256_GCM_SHA384", 0, False),
    ("tls13-chacha20", "1.3", "TLS_CHACHA20_POLY1305_SHA256", 0, False),
    ("tls12-ecdhe-rsa-aes128gcm", "1.2", "ECDHE-RSA-AES128-GCM-SHA256", 0, False),
    ("tls12-rsa-aes256gcm", "1.2", "AES256-GCM-SHA384", 0, False),
    ("tls12-ecdhe-rsa-chacha20", "1.2", "ECDHE-RSA-CHACHA20-POLY1305", 0, False),
    # CBC: OpenSSL negotiates encrypt-then-MAC (RFC 7366) by default.
    ("tls12-rsa-aes128cbc-sha-etm", "1.2", "AES128-SHA", 0, False),
    ("tls12-rsa-aes128cbc-sha256-mte", "1.2", "AES128-SHA256", SSL_OP_NO_ENCRYPT_THEN_MAC, True),
    ("tls11-rsa-aes256cbc-sha-mte", "1.1", "AES256-SHA", SSL_OP_NO_ENCRYPT_THEN_MAC, False),
    ("tls10-ecdhe-rsa-aes128cbc-sha-etm", "1.0", "ECDHE-RSA-AES128-SHA", 0, False),
]

VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


def make_cert(folder):
    key, cert = os.path.join(folder, "key.pem"), os.path.join(folder, "cert.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
         "-out", cert, "-days", "3650", "-subj", "/CN=mail.example.test"],
        check=True, capture_output=True)
    return cert, key


def writes(big):
    """The application writes: (client → server, server → client)."""
    client = [b"EHLO client.example.test\r\n", b"MAIL FROM:<a@example.test>\r\n"]
    server = [b"250-mail.example.test\r\n250 STARTTLS\r\n", b"250 2.1.0 Ok\r\n"]
    if big:
        # Over 16 KiB: the record layer cuts it into two records.
        client.append(bytes((i * 7 + 3) % 251 for i in range(17000)))
    client.append(b"QUIT\r\n")
    server.append(b"221 2.0.0 Bye\r\n")
    return client, server


def run(name, version, suite, client_options, big, folder):
    cert, key = make_cert(folder)
    keylog = os.path.join(folder, "keylog.txt")
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    cctx.keylog_filename = keylog
    for ctx in (sctx, cctx):
        ctx.minimum_version = ctx.maximum_version = VERSIONS[version]
        if version != "1.3":
            # TLS 1.0/1.1 need security level 0 in OpenSSL 3.
            ctx.set_ciphers(suite + ("@SECLEVEL=0" if version in ("1.0", "1.1") else ""))
    cctx.options |= client_options

    cin, cout, sin, sout = (ssl.MemoryBIO() for _ in range(4))
    client = cctx.wrap_bio(cin, cout, server_hostname="mail.example.test")
    server = sctx.wrap_bio(sin, sout, server_side=True)
    wire = {"client": bytearray(), "server": bytearray()}

    def pump():
        moved = False
        for src, dst, who in ((cout, sin, "client"), (sout, cin, "server")):
            data = src.read()
            if data:
                wire[who] += data
                dst.write(data)
                moved = True
        return moved

    def attempt(fn):
        try:
            fn()
            return True
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False

    done = [False, False]
    for _ in range(100):
        if not done[0]:
            done[0] = attempt(client.do_handshake)
        if not done[1]:
            done[1] = attempt(server.do_handshake)
        moved = pump()
        if all(done) and not moved:
            break
    assert all(done), name

    def send(writer, reader, data):
        writer.write(data)
        got = bytearray()
        for _ in range(1000):
            pump()
            try:
                got += reader.read(65536)
            except ssl.SSLWantReadError:
                pass
            if len(got) >= len(data):
                break
        assert bytes(got) == data, name

    client_writes, server_writes = writes(big)
    for c, s in zip(client_writes, server_writes):
        send(client, server, c)
        send(server, client, s)
    for c in client_writes[len(server_writes):]:
        send(client, server, c)
    pump()
    assert client.version() == server.version()
    with open(keylog) as f:
        lines = [line for line in f if line.strip() and not line.startswith("#")]
    return {
        "name": name,
        "version": client.version(),
        "suite": client.cipher()[0],
        "keylog": "".join(lines),
        "client": wire["client"].hex(),
        "server": wire["server"].hex(),
        "client_plain": b"".join(client_writes).hex(),
        "server_plain": b"".join(server_writes).hex(),
    }


def keyupdate_case(folder):
    """TLS 1.3 with KeyUpdate both ways, through the openssl CLI (Python's ssl cannot send
    one): s_client and s_server with a recording relay between them; typing `k` makes a
    side update its keys, `K` also asks the peer to update its own."""
    import socket
    import threading
    import time

    cert, key = make_cert(folder)
    keylog = os.path.join(folder, "keylog.txt")

    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    server_port, relay_port = free_port(), free_port()
    wire = {"client": bytearray(), "server": bytearray()}
    listener = socket.socket()
    listener.bind(("127.0.0.1", relay_port))
    listener.listen(1)

    def relay():
        down, _ = listener.accept()
        up = socket.create_connection(("127.0.0.1", server_port))

        def pipe(a, b, who):
            while True:
                data = a.recv(65536)
                if not data:
                    b.shutdown(socket.SHUT_WR)
                    return
                wire[who] += data
                b.sendall(data)

        threading.Thread(target=pipe, args=(down, up, "client"), daemon=True).start()
        threading.Thread(target=pipe, args=(up, down, "server"), daemon=True).start()

    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.PIPE)
    server = subprocess.Popen(
        ["openssl", "s_server", "-accept", f"127.0.0.1:{server_port}", "-tls1_3", "-cert",
         cert, "-key", key, "-ciphersuites", "TLS_AES_128_GCM_SHA256"], **quiet)
    time.sleep(0.5)
    threading.Thread(target=relay, daemon=True).start()
    client = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{relay_port}", "-tls1_3",
         "-keylogfile", keylog], **quiet)
    client_plain, server_plain = bytearray(), bytearray()

    def say(proc, line, plain):
        time.sleep(0.4)
        proc.stdin.write(line)
        proc.stdin.flush()
        if plain is not None:
            plain += line

    say(client, b"EHLO client.example.test\n", client_plain)
    say(client, b"K\n", None)  # client: KeyUpdate(update_requested); the server answers
    say(client, b"MAIL FROM:<a@example.test>\n", client_plain)
    say(server, b"250 Ok\n", server_plain)
    say(server, b"k\n", None)  # server: KeyUpdate(update_not_requested)
    say(server, b"250 Ok after the update\n", server_plain)
    # Not "RCPT" or "QUIT": s_client reads a line starting with R or Q as a command.
    say(client, b"NOOP\n", client_plain)
    time.sleep(1.0)
    client.kill()
    server.kill()
    client.wait()
    server.wait()
    with open(keylog) as f:
        lines = [line for line in f if line.strip() and not line.startswith("#")]
    return {
        "name": "tls13-keyupdate",
        "version": "TLSv1.3",
        "suite": "TLS_AES_128_GCM_SHA256",
        # The standard NSS lines only; this OpenSSL also logs the updated secrets, kept
        # apart to check the KeyUpdate derivation against.
        "keylog": "".join(line for line in lines if "_SECRET_N " not in line),
        "keylog_updates": "".join(line for line in lines if "_SECRET_N " in line),
        "client": wire["client"].hex(),
        "server": wire["server"].hex(),
        "client_plain": client_plain.hex(),
        "server_plain": server_plain.hex(),
    }


def one(name):
    if name == "tls13-keyupdate":
        with tempfile.TemporaryDirectory() as folder:
            result = keyupdate_case(folder)
        with open(os.path.join(HERE, name + ".json"), "w") as f:
            json.dump(result, f, indent=0)
            f.write("\n")
        print(name, result["version"], result["suite"])
        return
    case = next(c for c in CASES if c[0] == name)
    with tempfile.TemporaryDirectory() as folder:
        result = run(*case, folder)
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump(result, f, indent=0)
        f.write("\n")
    print(name, result["version"], result["suite"])


def main():
    if len(sys.argv) == 2:
        one(sys.argv[1])
        return
    for name, version, suite, _, _ in CASES:
        env = dict(os.environ)
        with tempfile.TemporaryDirectory() as folder:
            if version == "1.3":
                conf = os.path.join(folder, "openssl.cnf")
                with open(conf, "w") as f:
                    f.write("openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\n"
                            "system_default = defaults\n[defaults]\n"
                            f"Ciphersuites = {suite}\n")
                env["OPENSSL_CONF"] = conf
            subprocess.run([sys.executable, os.path.abspath(__file__), name], env=env,
                           check=True)
    one("tls13-keyupdate")


if __name__ == "__main__":
    main()

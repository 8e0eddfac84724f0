#!/usr/bin/env python3
"""Live TLS (issue 13): `mailscope -i lo --tls-keylog KEYS` runs while real clients write KEYS
(a file that does not exist when mailscope starts, and grows while it captures).

    tls_live.py drive KEYS EXPECT.json PORT   smtplib SMTP_SSL on 465 (AUTH LOGIN + a message),
                                             smtplib STARTTLS on 587 (AUTH PLAIN + a message),
                                             imaplib IMAP4_SSL on 993 (LOGIN, SELECT, LOGOUT),
                                             a raw IMAPS client with COMPRESS=DEFLATE inside,
                                             each from its own client port (PORT, PORT+1, ..);
                                             what each sent goes to EXPECT.json
    tls_live.py check OUT.json EXPECT.json   mailscope's JSON Lines against it: one session per
                                             connection, decrypted, the commands inside TLS
                                             marked "tls": true, each message's sha256
"""
import hashlib
import imaplib
import json
import smtplib
import socket
import ssl
import sys
import zlib
from email.message import EmailMessage

HOST = "127.0.0.1"
ALICE = ("alice", "Wonderland-2024")


def context(keys):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.keylog_filename = keys
    return ctx


def message(n):
    m = EmailMessage()
    m["From"] = "alice@example.test"
    m["To"] = "alice@example.test"
    m["Subject"] = f"live tls {n}"
    m.set_content(f"Sent live through TLS, number {n}.\n")
    data = m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data


def drive(keys, expect, port):
    port = int(port)
    conns = []
    # Implicit TLS (465): greeting, EHLO, AUTH and the message all inside TLS.
    data = message(1)
    s = smtplib.SMTP_SSL(HOST, 465, context=context(keys), source_address=(HOST, port))
    s.ehlo("client.example.test")
    s.login(*ALICE)
    s.sendmail("alice@example.test", ["alice@example.test"], data)
    s.quit()
    conns.append(dict(port=port, protocol="smtp", mode="implicit",
                      commands=["EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"],
                      messages=[hashlib.sha256(data).hexdigest()]))
    # STARTTLS (587): the first EHLO in clear, the rest inside.
    data = message(2)
    s = smtplib.SMTP(HOST, 587, source_address=(HOST, port + 1))
    s.ehlo("client.example.test")
    s.starttls(context=context(keys))
    s.ehlo("client.example.test")
    s.login(*ALICE)
    s.sendmail("alice@example.test", ["alice@example.test"], data)
    s.quit()
    conns.append(dict(port=port + 1, protocol="smtp", mode="starttls",
                      commands=["EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"],
                      messages=[hashlib.sha256(data).hexdigest()]))
    # Implicit TLS (993).
    m = imaplib.IMAP4_SSL(HOST, 993, ssl_context=context(keys))
    cport = m.sock.getsockname()[1]
    m.login(*ALICE)
    m.select("INBOX")
    m.logout()
    conns.append(dict(port=cport, protocol="imap", mode="implicit",
                      commands=["LOGIN", "SELECT", "LOGOUT"], messages=[]))
    # Implicit TLS (993) with COMPRESS=DEFLATE inside it (Thunderbird's way): a raw client,
    # as imaplib has no COMPRESS.
    conns.append(imap_compress(keys, port + 3))
    json.dump(conns, open(expect, "w"), indent=1)


def imap_compress(keys, port):
    raw = socket.create_connection((HOST, 993), source_address=(HOST, port))
    tls = context(keys).wrap_socket(raw, server_hostname="mail.example.test")
    f = tls.makefile("rb")

    def until(tag):
        while True:
            line = f.readline()
            if not line or line.startswith(tag.encode()):
                return line

    until("* OK")
    tls.sendall(f"a1 LOGIN {ALICE[0]} {ALICE[1]}\r\n".encode())
    until("a1 ")
    tls.sendall(b"a2 COMPRESS DEFLATE\r\n")
    if not until("a2 ").startswith(b"a2 OK"):
        raise SystemExit("COMPRESS refused: is imap_zlib loaded?")
    comp, decomp = zlib.compressobj(wbits=-15), zlib.decompressobj(wbits=-15)
    got = b""

    def send(text):
        tls.sendall(comp.compress(text) + comp.flush(zlib.Z_SYNC_FLUSH))

    def wait(tag):
        nonlocal got
        while tag not in got:
            data = tls.recv(65536)
            if not data:
                raise SystemExit("the server closed during COMPRESS")
            got += decomp.decompress(data)

    send(b"a3 SELECT INBOX\r\n")
    wait(b"a3 OK")
    send(b"a4 LOGOUT\r\n")
    wait(b"a4 OK")
    tls.close()
    return dict(port=port, protocol="imap", mode="implicit",
                commands=["LOGIN", "COMPRESS", "SELECT", "LOGOUT"], messages=[])


def check(out, expect):
    sessions = [json.loads(line) for line in open(out) if '"type":"session"' in line]
    bad = []
    for want in json.load(open(expect)):
        s = next((s for s in sessions if s["client"]["port"] == want["port"]), None)
        where = f"{want['protocol']} {want['mode']} :{want['port']}"
        if s is None:
            bad.append(f"{where}: no session")
            continue
        tls = s.get("tls") or {}
        if tls.get("mode") != want["mode"] or tls.get("decrypted") is not True:
            bad.append(f"{where}: tls {tls}")
        inside = [e["command"]["verb"] for e in s["exchanges"] if e.get("command") and e.get("tls")]
        if [v for v in inside if v in want["commands"]] != want["commands"]:
            bad.append(f"{where}: commands inside TLS {inside}, want {want['commands']}")
        got = [m["sha256"] for m in s["messages"] if m.get("tls")]
        if got != want["messages"]:
            bad.append(f"{where}: messages {got}, want {want['messages']}")
        names = [a["name"] for a in s["anomalies"] if a["name"].startswith("tls-")]
        if names:
            bad.append(f"{where}: anomalies {names}")
    for b in bad:
        print(f"FAIL: live TLS: {b}", file=sys.stderr)
    return not bad


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "drive":
        drive(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(0 if check(*sys.argv[2:]) else 1)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

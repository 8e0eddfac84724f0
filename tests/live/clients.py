#!/usr/bin/env python3
"""Real mail clients against the loopback Postfix/Dovecot of samples/mailservers.sh, each
recording what it sent, so a capture of the run can be checked against it.

    clients.py all  OUT.json BASEPORT   swaks (AUTH PLAIN on 587, STARTTLS on 25), curl
                                        (smtp://, pop3://, imap://), smtplib, poplib, imaplib
    clients.py hold OUT.json PORT DIR   one smtplib session that stops after EHLO: writes
                                        DIR/ready, waits for DIR/go (sends a message and QUITs)
                                        or DIR/drop (closes without QUIT), then writes OUT.json

OUT.json is a list of clients: {name, protocol, client_port, server_port, tls, commands:
[[raw line, reply code or null], ...] in the order sent, messages: [sha256, ...]}. Every
client binds its own local port (BASEPORT + n), which is how a session is told apart from
the others. Message hashes are of the bytes the client sent in DATA (after dot-unstuffing,
up to and including the CRLF before the final dot) or of the message a retrieval returned.
"""
import hashlib
import imaplib
import json
import os
import poplib
import re
import smtplib
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
ALICE = ("alice", "Wonderland-2024")
BOB = ("bob", 's3cr3t pass"word')


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def message(tag: str) -> bytes:
    """A CRLF message with a line that needs dot-stuffing, so unstuffing is checked too."""
    return (
        f"From: {tag}@example.test\r\nTo: alice@example.test\r\nSubject: live {tag}\r\n"
        f"Message-ID: <{tag}.{time.time_ns()}@example.test>\r\n\r\n"
        f"Hello from {tag}.\r\n.a line that starts with a dot\r\n..and two dots\r\nbye\r\n"
    ).encode()


def swaks_transcript(out: str):
    """Commands, reply codes and the DATA payload from swaks' own transcript."""
    commands, payload, in_data = [], None, False
    for line in out.splitlines():
        m = re.match(r"^ ([-~])> (.*)$", line)
        r = re.match(r"^<([-~])  ?(\d{3})[ -]", line) or re.match(r"^<([-~]) (\d{3})", line)
        if in_data:
            if m:
                if m.group(2) == ".":
                    in_data = False
                    continue
                text = m.group(2)
                payload.append(text[1:] if text.startswith(".") else text)
            continue
        if m:
            commands.append([m.group(2), None])
        elif r and commands and commands[-1][1] is None:
            commands[-1][1] = r.group(2)
            if commands[-1][0] == "DATA" and r.group(2) == "354":
                in_data, payload = True, []
        elif r and not commands:
            pass  # the greeting
    messages = [sha(("\r\n".join(payload) + "\r\n").encode())] if payload else []
    return commands, messages


def swaks(name, port, server_port, *args):
    out = subprocess.run(
        ["swaks", "--server", HOST, "--port", str(server_port), "--local-port", str(port),
         "--to", "alice@example.test", "--header", f"Subject: live {name}", *args],
        capture_output=True, text=True, check=True, timeout=60).stdout
    commands, messages = swaks_transcript(out)
    tls = "--tls" in args
    if tls:
        # After STARTTLS the commands are encrypted: the capture shows EHLO and STARTTLS only.
        cut = next(i for i, c in enumerate(commands) if c[0] == "STARTTLS") + 1
        commands, messages = commands[:cut], []
    assert commands, out
    return dict(name=name, protocol="smtp", client_port=port, server_port=server_port,
                tls=tls, commands=commands, messages=messages)


def curl_verbose(err: str):
    """Commands and reply codes from curl -v ("> CMD", "< CODE ..."); a line sent after a
    "+" continuation request belongs to the command before it."""
    commands, continuation = [], False
    for line in err.splitlines():
        if line.startswith("> "):
            if not continuation:
                commands.append([line[2:], None])
            continuation = False
        elif line.startswith("< ") and commands and commands[-1][1] is None:
            if line == "< +" or line.startswith("< + "):
                continuation = True
                continue
            m = re.match(r"< (\d{3}) |< (\+OK|-ERR)|< \S+ (OK|NO|BAD) ", line)
            if m:
                commands[-1][1] = next(g for g in m.groups() if g)
    return commands


def curl(name, protocol, port, server_port, url, *args):
    p = subprocess.run(["curl", "-sS", "-v", "--local-port", str(port), url, *args],
                       capture_output=True, check=True, timeout=60)
    return p.stdout, dict(name=name, protocol=protocol, client_port=port,
                          server_port=server_port, tls=False,
                          commands=curl_verbose(p.stderr.decode(errors="replace")), messages=[])


class Recorder:
    """Wraps an imaplib client's send so every command line it sends is recorded."""

    def __init__(self, client):
        self.sent = bytearray()
        orig = client.send

        def send(data):
            self.sent += data
            return orig(data)
        client.send = send

    def lines(self):
        return [ln.decode() for ln in bytes(self.sent).split(b"\r\n") if ln]


def smtp_transaction(s, commands, sender, payload):
    """MAIL, RCPT, DATA with a dot-stuffed payload, QUIT, each reply code recorded."""
    def do(cmd, args=""):
        code, _ = s.docmd(cmd, args)
        commands.append([f"{cmd} {args}".strip(), str(code)])
        return code
    do("MAIL", f"FROM:<{sender}>")
    do("RCPT", "TO:<alice@example.test>")
    assert do("DATA") == 354
    s.send(re.sub(rb"(?m)^\.", b"..", payload) + b".\r\n")
    code, _ = s.getreply()
    assert code == 250, code
    do("QUIT")
    s.close()


def smtp_python(port):
    payload = message("smtplib")
    s = smtplib.SMTP(HOST, 25, source_address=(HOST, port))
    code, _ = s.docmd("EHLO", "smtplib.example.test")
    commands = [["EHLO smtplib.example.test", str(code)]]
    smtp_transaction(s, commands, "dave@example.test", payload)
    return dict(name="smtplib", protocol="smtp", client_port=port, server_port=25, tls=False,
                commands=commands, messages=[sha(payload)])


def pop3_python(port):
    p = poplib.POP3(HOST, 110, timeout=30)
    # poplib cannot bind a source port; it reports the one it got.
    port = p.sock.getsockname()[1]
    commands = [["USER alice", "+OK"], ["PASS " + ALICE[1], "+OK"]]
    p.user(ALICE[0])
    p.pass_(ALICE[1])
    count = p.stat()[0]
    commands.append(["STAT", "+OK"])
    messages = []
    for n in range(1, count + 1):
        _, lines, _ = p.retr(n)
        messages.append(sha(b"".join(ln + b"\r\n" for ln in lines)))
        commands.append([f"RETR {n}", "+OK"])
    p.quit()
    commands.append(["QUIT", "+OK"])
    return dict(name="poplib", protocol="pop3", client_port=port, server_port=110, tls=False,
                commands=commands, messages=messages)


def imap_python(port):
    m = imaplib.IMAP4(HOST, 143, timeout=30)
    port = m.sock.getsockname()[1]
    rec = Recorder(m)
    m.login(*ALICE)
    m.select("INBOX")
    typ, data = m.fetch("1:*", "(BODY.PEEK[])")
    assert typ == "OK"
    messages = [sha(item[1]) for item in data if isinstance(item, tuple)]
    m.logout()
    commands = [[ln, "OK"] for ln in rec.lines()]
    return dict(name="imaplib", protocol="imap", client_port=port, server_port=143, tls=False,
                commands=commands, messages=messages)


def run_all(out, base):
    clients = []
    clients.append(swaks("swaks-auth", base + 1, 587, "--auth", "PLAIN", "--auth-user", BOB[0],
                         "--auth-password", BOB[1], "--from", "bob@example.test",
                         "--body", "sent with AUTH PLAIN\n.dot line\n"))
    clients.append(swaks("swaks-starttls", base + 2, 25, "--tls", "--from", "erin@example.test"))
    with tempfile.NamedTemporaryFile(suffix=".eml") as f:
        payload = message("curl")
        f.write(payload)
        f.flush()
        _, c = curl("curl-smtp", "smtp", base + 3, 25, f"smtp://{HOST}:25/curl.example.test",
                    "--mail-from", "curl@example.test", "--mail-rcpt", "alice@example.test",
                    "-T", f.name)
        c["messages"] = [sha(payload)]
        clients.append(c)
    clients.append(smtp_python(base + 4))
    # Postfix delivers three messages to alice (swaks-auth, curl, smtplib) per run.
    maildir = "/var/mail/vhosts/example.test/alice"
    for _ in range(150):
        n = sum(len(os.listdir(f"{maildir}/{d}")) for d in ("new", "cur")
                if os.path.isdir(f"{maildir}/{d}"))
        if n >= 3:
            break
        time.sleep(0.2)
    body, c = curl("curl-pop3", "pop3", base + 5, 110, f"pop3://{HOST}/1", "-u", ":".join(ALICE))
    c["messages"] = [sha(body)]
    clients.append(c)
    body, c = curl("curl-imap", "imap", base + 6, 143, f"imap://{HOST}/INBOX;MAILINDEX=1",
                   "-u", ":".join(ALICE))
    c["messages"] = [sha(body)]
    clients.append(c)
    clients.append(pop3_python(0))
    clients.append(imap_python(0))
    json.dump(clients, open(out, "w"), indent=1)


def hold(out, port, sync):
    s = smtplib.SMTP(HOST, 25, source_address=(HOST, port))
    code, _ = s.docmd("EHLO", "held.example.test")
    commands = [["EHLO held.example.test", str(code)]]
    open(f"{sync}/ready", "w").close()
    while not (os.path.exists(f"{sync}/go") or os.path.exists(f"{sync}/drop")):
        time.sleep(0.05)
    messages = []
    if os.path.exists(f"{sync}/go"):
        payload = message("held")
        smtp_transaction(s, commands, "held@example.test", payload)
        messages.append(sha(payload))
    else:
        s.close()
    json.dump([dict(name="held", protocol="smtp", client_port=port, server_port=25, tls=False,
                    commands=commands, messages=messages)], open(out, "w"), indent=1)


if __name__ == "__main__":
    if sys.argv[1] == "all":
        run_all(sys.argv[2], int(sys.argv[3]))
    else:
        hold(sys.argv[2], int(sys.argv[3]), sys.argv[4])

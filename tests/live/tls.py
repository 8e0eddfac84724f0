#!/usr/bin/env python3
"""TLS scenarios against the loopback Postfix/Dovecot of samples/mailservers.sh: real clients
write NSS key logs while tcpdump records each scenario into a capture of its own, and each
client records what it sent, so tests/live/tls_check.py can hold mailscope's decryption (and
tshark's) against it.

    tls.py run DIR [NAME...]    every scenario (or the ones named), one after the other:
                                DIR/NAME.pcap (or .pcapng with the secrets embedded),
                                DIR/NAME.keys (the key log given to the analyzer) and
                                DIR/NAME.truth.json; DIR/index.json lists them
    tls.py list                 the scenarios and what each covers
    tls.py client NAME DIR      (internal) one scenario's clients, in a process of their own
                                so that OPENSSL_CONF can pick its TLS 1.3 suite

NAME.truth.json: {scenario, about, capture, keylog (null: embedded in the pcapng), covers,
connections: [{client, protocol, server_port, client_port, source, commands: [{line, tls}]
in the order sent, messages: [sha256] of each message sent (SMTP: after dot-unstuffing, up to
and including the CRLF before the final dot) or fetched (POP3 RETR, IMAP BODY[]), tls:
{mode, version, cipher (IANA name), cipher_openssl, sni, resumed, key_update, keys (false:
its lines were taken out of the key log)}}]}.

How each client's record is made:
  * Python smtplib/poplib/imaplib: before TLS, a socket.socket subclass logs every send and
    sendall (socket.create_connection is replaced by one that makes it); inside TLS, an
    ssl.SSLSocket subclass (SSLContext.sslsocket_class) logs every SSL write with the bytes
    OpenSSL took. Command lines are those bytes split at CRLF, less the SMTP DATA payload,
    which becomes the message. Fetched messages are what the library returned. The TLS
    version, suite and resumption are the SSLSocket's own.
  * openssl s_client -starttls smtp: before TLS it sends "EHLO <-name>" and STARTTLS (its
    documented exchange); inside TLS the lines this script writes to its stdin (-crlf). A
    line "K" is not data: it makes s_client send a KeyUpdate (and ask the server for one),
    which is why the verbs that start with Q or R are written in lower case (s_client's
    other command letters). Version and suite from its -brief report, its client port from
    ss(8) while it is connected.
  * curl: the "> " lines of -v (before and after its "SSL connection using" line), plus the
    QUIT it sends when it drops the connection (after the transfer, with no verbose output).
    Its client port from -w %{local_port}.
"""
import hashlib
import json
import os
import imaplib
import poplib
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HOST = "127.0.0.1"
SNI = "mail.example.test"
HELO = "client.example.test"
ALICE = ("alice", "Wonderland-2024")
BOB = ('bob', 's3cr3t pass"word')
MAILDIR = "/var/mail/vhosts/example.test/alice"
# SSL_OP_NO_ENCRYPT_THEN_MAC (OpenSSL 3.0); Python's ssl module has no name for it.
NO_ENCRYPT_THEN_MAC = 0x00080000


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- the client-side record ----

@dataclass
class Conn:
    client: str
    protocol: str
    server_port: int
    source: str
    client_port: int = 0
    writes: list = field(default_factory=list)  # [(inside TLS, bytes)], in order
    payload_in_writes: bool = True  # the bytes after DATA are in `writes` (not with curl)
    fetched: list = field(default_factory=list)
    tls: dict = field(default_factory=dict)

    def record(self):
        commands, messages = split_writes(self.protocol, self.writes, self.payload_in_writes)
        return dict(client=self.client, protocol=self.protocol, server_port=self.server_port,
                    client_port=self.client_port, source=self.source, commands=commands,
                    messages=messages + self.fetched, tls=self.tls)


CONNS: list = []


def current() -> Conn:
    return CONNS[-1]


def begin(client, protocol, server_port, source="python socket + SSLSocket write log"):
    CONNS.append(Conn(client, protocol, server_port, source))
    return CONNS[-1]


def split_writes(protocol, writes, payload_in_writes=True):
    """Command lines, each marked inside TLS or not, and the sha256 of each SMTP DATA
    payload, from the bytes a client wrote."""
    commands, messages = [], []
    payload = None
    for tls, data in merge(writes):
        for line in data.split(b"\r\n")[:-1] if data.endswith(b"\r\n") else data.split(b"\r\n"):
            if payload is not None:
                if line == b".":
                    messages.append(sha(b"".join(ln + b"\r\n" for ln in payload)))
                    payload = None
                else:
                    payload.append(line[1:] if line.startswith(b".") else line)
                continue
            text = line.decode("utf-8", "replace")
            commands.append(dict(line=text, tls=tls))
            if protocol == "smtp" and text.upper() == "DATA" and payload_in_writes:
                payload = []
    return commands, messages


def merge(writes):
    """Consecutive writes on the same side of the TLS boundary joined (a line may span two)."""
    out = []
    for tls, data in writes:
        if out and out[-1][0] == tls:
            out[-1] = (tls, out[-1][1] + data)
        else:
            out.append((tls, data))
    return out


class LoggingSocket(socket.socket):
    """A plain socket that logs what the client sends before TLS."""

    def sendall(self, data, *args):
        current().writes.append((False, bytes(data)))
        return super().sendall(data, *args)

    def send(self, data, *args):
        n = super().send(data, *args)
        current().writes.append((False, bytes(data[:n])))
        return n


class LoggingSSLSocket(ssl.SSLSocket):
    """An SSL socket that logs every SSL write (sendall goes through send)."""

    def send(self, data, flags=0):
        n = super().send(data, flags)
        if self._sslobj is not None:
            current().writes.append((True, bytes(memoryview(data)[:n])))
        return n


def create_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None,
                      **_):
    s = LoggingSocket(socket.AF_INET, socket.SOCK_STREAM)
    if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
        s.settimeout(timeout)
    if source_address:
        s.bind(source_address)
    s.connect(address)
    current().client_port = s.getsockname()[1]
    return s



class Context(ssl.SSLContext):
    """A client context that sends SNI (the libraries pass the IP address, which OpenSSL
    leaves out) and offers a saved session."""
    session = None

    def wrap_socket(self, sock, *args, server_hostname=None, **kw):
        if self.session is not None:
            kw["session"] = self.session
        return super().wrap_socket(sock, *args, server_hostname=SNI, **kw)


def context(keylog, version, suite=None, etm=True):
    ctx = Context(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.keylog_filename = keylog
    ctx.sslsocket_class = LoggingSSLSocket
    if version == "1.2":
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(suite)
    else:
        # The TLS 1.3 suite comes from OPENSSL_CONF (Scenario.tls13): set_ciphers cannot.
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    if not etm:
        ctx.options |= NO_ENCRYPT_THEN_MAC
    return ctx


def iana(openssl_name):
    """OpenSSL's suite name to the IANA one (`openssl ciphers -stdname`)."""
    out = subprocess.run(["openssl", "ciphers", "-stdname", "ALL:@SECLEVEL=0"],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] == openssl_name:
            return parts[0]
    if openssl_name.startswith("TLS_"):
        return openssl_name
    raise SystemExit(f"no IANA name for {openssl_name}")


def note_tls(sock, mode):
    name, _, _ = sock.cipher()
    etm = not sock.context.options & NO_ENCRYPT_THEN_MAC
    current().tls = dict(mode=mode, version=sock.version(), cipher=iana(name),
                         cipher_openssl=name, sni=SNI, resumed=sock.session_reused,
                         key_update=False, keys=True,
                         encrypt_then_mac=(None if "GCM" in name or "CHACHA" in name
                                           or sock.version() == "TLSv1.3" else etm))


# ---- messages ----

def message(tag: str, extra: str = "") -> bytes:
    """A CRLF message with lines that need dot-stuffing."""
    return (
        f"From: {tag}@example.test\r\nTo: alice@example.test\r\nSubject: tls {tag}\r\n"
        f"Message-ID: <{tag}.{time.time_ns()}@example.test>\r\n\r\n"
        f"Hello from {tag}, inside TLS.\r\n.a line that starts with a dot\r\n{extra}bye\r\n"
    ).encode()


# ---- Python clients ----

def smtp_py(port, mode, ctx, auth=None, sender="dave@example.test", resume=False):
    c = begin("python smtplib", "smtp", port)
    if mode == "implicit":
        s = smtplib.SMTP_SSL(HOST, port, context=ctx, timeout=30)
    else:
        s = smtplib.SMTP(HOST, port, timeout=30)
        s.ehlo(HELO)
        s.starttls(context=ctx)
    note_tls(s.sock, mode)
    if resume and not s.sock.session_reused:
        raise SystemExit("smtplib: the TLS session was not resumed")
    ctx.session = s.sock.session
    s.ehlo(HELO)
    if auth:
        s.login(*auth)
    payload = message(f"smtplib{port}")
    s.sendmail(sender, ["alice@example.test"], payload)
    s.quit()
    return c, payload


def pop3_py(port, mode, ctx):
    c = begin("python poplib", "pop3", port)
    if mode == "implicit":
        p = poplib.POP3_SSL(HOST, port, context=ctx, timeout=30)
    else:
        p = poplib.POP3(HOST, port, timeout=30)
        p.stls(ctx)
    note_tls(p.sock, mode)
    p.user(ALICE[0])
    p.pass_(ALICE[1])
    p.stat()
    _, lines, _ = p.retr(1)
    c.fetched.append(sha(b"".join(ln + b"\r\n" for ln in lines)))
    p.quit()
    return c


def imap_py(port, mode, ctx):
    c = begin("python imaplib", "imap", port)
    if mode == "implicit":
        m = imaplib.IMAP4_SSL(HOST, port, ssl_context=ctx, timeout=30)
    else:
        m = imaplib.IMAP4(HOST, port, timeout=30)
        m.starttls(ctx)
    note_tls(m.sock, mode)
    m.login(*ALICE)
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    assert typ == "OK", data
    c.fetched += [sha(item[1]) for item in data if isinstance(item, tuple)]
    m.logout()
    return c


def check_payload(c, payload):
    got = split_writes(c.protocol, c.writes)[1]
    if got != [sha(payload)]:
        raise SystemExit(f"{c.client}: DATA payload on the wire {got} is not the message sent")


# ---- openssl s_client and curl ----

def client_port_of(pid, server_port):
    for _ in range(50):
        out = subprocess.run(["ss", "-Htnp", "state", "established", f"( dport = :{server_port} )"],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            if f"pid={pid}," in line:
                return int(line.split()[2].rsplit(":", 1)[1])
        time.sleep(0.1)
    raise SystemExit(f"ss: no connection of pid {pid} to port {server_port}")


def s_client_smtp(keylog, port, suite, payload):
    """s_client -starttls smtp, TLS 1.3 with one suite; EHLO, a KeyUpdate both ways, then a
    message, all inside TLS."""
    c = begin("openssl s_client", "smtp", port,
              "s_client's STARTTLS exchange (EHLO -name, STARTTLS), then the lines written to "
              "its stdin")
    p = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"{HOST}:{port}", "-starttls", "smtp", "-name", HELO,
         "-servername", SNI, "-tls1_3", "-ciphersuites", suite, "-keylogfile", keylog, "-crlf",
         "-brief"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    c.client_port = client_port_of(p.pid, port)
    time.sleep(1)
    c.writes.append((False, f"EHLO {HELO}\r\nSTARTTLS\r\n".encode()))
    body = payload.decode().split("\r\n")[:-1]
    commands = [f"EHLO {HELO}", "K", "MAIL FROM:<erin@example.test>",
                "rcpt TO:<alice@example.test>", "DATA", body, ".", "quit"]
    for step in commands:
        lines = step if isinstance(step, list) else [step]
        for line in lines:
            if line != "K":
                c.writes.append((True, line.encode() + b"\r\n"))
        # One stdin read per command: s_client looks for its command letters (K) only at
        # the start of what it reads.
        p.stdin.write("".join(ln + "\n" for ln in lines).encode())
        p.stdin.flush()
        time.sleep(0.3)
    out, err = p.communicate(timeout=20)
    err = err.decode(errors="replace")
    if p.returncode != 0 or "KEYUPDATE" not in err or "221" not in out.decode(errors="replace"):
        raise SystemExit(f"s_client failed ({p.returncode}):\n{out.decode()}\n{err}")
    version = re.search(r"Protocol version: (\S+)", err).group(1)
    name = re.search(r"Ciphersuite: (\S+)", err).group(1)
    c.tls = dict(mode="starttls", version=version, cipher=iana(name), cipher_openssl=name,
                 sni=SNI, resumed=False, key_update=True, keys=True, encrypt_then_mac=None)
    return c


def curl(keylog, protocol, port, url, mode, args, payload=None):
    c = begin("curl", protocol, port,
              "curl -v '> ' lines, and the QUIT it sends when it drops the connection")
    c.payload_in_writes = False
    with tempfile.TemporaryDirectory() as tmp:
        body = f"{tmp}/body"
        cmd = ["curl", "-sS", "-v", "-k", "-w", "%{local_port}", "-o", body, url, *args]
        if payload is not None:
            open(f"{tmp}/msg.eml", "wb").write(payload)
            cmd += ["-T", f"{tmp}/msg.eml"]
        p = subprocess.run(cmd, capture_output=True, timeout=60,
                           env=dict(os.environ, SSLKEYLOGFILE=keylog))
        err = p.stderr.decode(errors="replace")
        if p.returncode != 0:
            raise SystemExit(f"curl failed ({p.returncode}):\n{err}")
        c.client_port = int(p.stdout.decode().strip())
        tls = mode == "implicit"
        for line in err.splitlines():
            m = re.match(r"\* SSL connection using (\S+) / (\S+)", line)
            if m:
                tls = True
                c.tls = dict(mode=mode, version=m.group(1), cipher=iana(m.group(2)),
                             cipher_openssl=m.group(2), sni=None, resumed=False,
                             key_update=False, keys=True, encrypt_then_mac=None)
            elif line.startswith("> "):
                c.writes.append((tls, line[2:].encode() + b"\r\n"))
        if not c.tls:
            raise SystemExit(f"curl: no TLS connection:\n{err}")
        c.writes.append((tls, b"QUIT\r\n"))
        if payload is not None:
            # DATA's payload is not in curl's verbose output: the file it sent.
            c.fetched.append(sha(payload))
        else:
            c.fetched.append(sha(open(body, "rb").read()))
    return c


# ---- the scenarios ----

@dataclass
class Scenario:
    name: str
    ports: tuple
    about: str
    covers: list
    run: object
    tls13: str = None          # the TLS 1.3 suite the client offers (through OPENSSL_CONF)
    drop_keys_of: int = None   # this connection's lines are taken out of NAME.keys
    embed: bool = False        # a pcapng with the key log in a Decryption Secrets Block
    retrieves: bool = False    # needs a message in alice's mailbox


def sc_smtp587_tls13_aes128(keylog):
    c, payload = smtp_py(587, "starttls", context(keylog, "1.3"), auth=BOB,
                         sender="bob@example.test")
    check_payload(c, payload)


def sc_smtp465_tls12_resumed(keylog):
    ctx = context(keylog, "1.2", "ECDHE-RSA-AES128-GCM-SHA256")
    for resume in (False, True):
        c, payload = smtp_py(465, "implicit", ctx, auth=BOB, sender="bob@example.test",
                             resume=resume)
        check_payload(c, payload)


def sc_smtp25_tls13_chacha_keyupdate(keylog):
    s_client_smtp(keylog, 25, "TLS_CHACHA20_POLY1305_SHA256", message("s_client"))


def sc_smtp25_tls12_chacha_curl(keylog):
    curl(keylog, "smtp", 25, f"smtp://{HOST}:25/{HELO}", "starttls",
         ["--ssl-reqd", "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-CHACHA20-POLY1305",
          "--mail-from", "curl@example.test", "--mail-rcpt", "alice@example.test"],
         payload=message("curl"))


def sc_smtp25_tls12_rsa_cbc_sha_mte(keylog):
    ctx = context(keylog, "1.2", "AES128-SHA", etm=False)
    c, payload = smtp_py(25, "starttls", ctx)
    check_payload(c, payload)


def sc_pop3_110_tls12_cbc_sha256(keylog):
    pop3_py(110, "starttls", context(keylog, "1.2", "ECDHE-RSA-AES128-SHA256"))


def sc_pop3s_995_tls12_cbc_sha_mte(keylog):
    pop3_py(995, "implicit", context(keylog, "1.2", "ECDHE-RSA-AES256-SHA", etm=False))


def sc_pop3s_995_tls13_aes256_curl(keylog):
    curl(keylog, "pop3", 995, f"pop3s://{HOST}/1", "implicit",
         ["--tlsv1.3", "--tls13-ciphers", "TLS_AES_256_GCM_SHA384", "--sasl-ir",
          "-u", ":".join(ALICE)])


def sc_imap143_tls13_aes256(keylog):
    imap_py(143, "starttls", context(keylog, "1.3"))


def sc_imaps993_tls12_aes256gcm_embedded(keylog):
    imap_py(993, "implicit", context(keylog, "1.2", "ECDHE-RSA-AES256-GCM-SHA384"))


def sc_imaps993_tls13_nokey(keylog):
    ctx = context(keylog, "1.3")
    imap_py(993, "implicit", ctx)
    imap_py(993, "implicit", ctx)


SCENARIOS = [
    Scenario("smtp587-starttls-tls13-aes128gcm", (587,),
             "smtplib on 587: EHLO, STARTTLS, then EHLO, AUTH PLAIN as bob, MAIL, RCPT, DATA "
             "of one message, QUIT inside TLS 1.3 TLS_AES_128_GCM_SHA256",
             ["tls13:TLS_AES_128_GCM_SHA256", "starttls:smtp", "auth"],
             sc_smtp587_tls13_aes128, tls13="TLS_AES_128_GCM_SHA256"),
    Scenario("smtp465-implicit-tls12-aes128gcm-resumed", (465,),
             "smtplib SMTP_SSL on 465 twice, TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256: a full "
             "handshake, then a resumed session (the first one's session); each AUTH PLAIN "
             "and one message",
             ["tls12:gcm", "implicit:465", "resumed"], sc_smtp465_tls12_resumed),
    Scenario("smtp25-starttls-tls13-chacha20-keyupdate", (25,),
             "openssl s_client -starttls smtp on 25, TLS 1.3 TLS_CHACHA20_POLY1305_SHA256; "
             "inside TLS: EHLO, a KeyUpdate both ways, MAIL, rcpt, DATA, quit",
             ["tls13:TLS_CHACHA20_POLY1305_SHA256", "starttls:smtp", "keyupdate",
              "client:s_client"], sc_smtp25_tls13_chacha_keyupdate),
    Scenario("smtp25-starttls-tls12-chacha20-curl", (25,),
             "curl --ssl-reqd smtp:// on 25, TLS 1.2 ECDHE-RSA-CHACHA20-POLY1305, no SNI (an "
             "IP address): a message",
             ["tls12:chacha20", "starttls:smtp", "client:curl", "no-sni"],
             sc_smtp25_tls12_chacha_curl),
    Scenario("smtp25-starttls-tls12-rsa-aes128cbc-sha-mte", (25,),
             "smtplib STARTTLS on 25, TLS 1.2 AES128-SHA (RSA key exchange, CBC, HMAC-SHA1, "
             "MAC-then-encrypt): a message",
             ["tls12:cbc", "tls12:mac-then-encrypt", "tls12:rsa-kx", "starttls:smtp"],
             sc_smtp25_tls12_rsa_cbc_sha_mte),
    Scenario("pop3-110-stls-tls12-aes128cbc-sha256", (110,),
             "poplib on 110: CAPA, STLS, then USER/PASS, STAT, RETR 1, QUIT inside TLS 1.2 "
             "ECDHE-RSA-AES128-SHA256 (CBC, HMAC-SHA256, encrypt-then-MAC)",
             ["tls12:cbc", "tls12:encrypt-then-mac", "starttls:pop3"],
             sc_pop3_110_tls12_cbc_sha256, retrieves=True),
    Scenario("pop3s-995-implicit-tls12-aes256cbc-sha-mte", (995,),
             "poplib POP3_SSL on 995, TLS 1.2 ECDHE-RSA-AES256-SHA (CBC, HMAC-SHA1, "
             "MAC-then-encrypt): USER/PASS, STAT, RETR 1, QUIT",
             ["tls12:cbc", "tls12:mac-then-encrypt", "implicit:995"],
             sc_pop3s_995_tls12_cbc_sha_mte, retrieves=True),
    Scenario("pop3s-995-implicit-tls13-aes256gcm-curl", (995,),
             "curl pop3s:// on 995, TLS 1.3 TLS_AES_256_GCM_SHA384, no SNI: CAPA, AUTH PLAIN "
             "(SASL-IR), RETR 1, QUIT",
             ["tls13:TLS_AES_256_GCM_SHA384", "implicit:995", "client:curl"],
             sc_pop3s_995_tls13_aes256_curl, retrieves=True),
    Scenario("imap143-starttls-tls13-aes256gcm", (143,),
             "imaplib on 143: CAPABILITY, STARTTLS, then CAPABILITY, LOGIN, SELECT, FETCH 1 "
             "(BODY.PEEK[]), LOGOUT inside TLS 1.3 TLS_AES_256_GCM_SHA384",
             ["tls13:TLS_AES_256_GCM_SHA384", "starttls:imap"],
             sc_imap143_tls13_aes256, tls13="TLS_AES_256_GCM_SHA384", retrieves=True),
    Scenario("imaps993-implicit-tls12-aes256gcm-embedded", (993,),
             "imaplib IMAP4_SSL on 993, TLS 1.2 ECDHE-RSA-AES256-GCM-SHA384 (the SHA-384 PRF): "
             "LOGIN, SELECT, FETCH 1 (BODY.PEEK[]), LOGOUT; a pcapng with the key log "
             "embedded (editcap --inject-secrets), read without --tls-keylog",
             ["tls12:gcm", "implicit:993", "embedded"],
             sc_imaps993_tls12_aes256gcm_embedded, embed=True, retrieves=True),
    Scenario("imaps993-implicit-tls13-nokey", (993,),
             "imaplib IMAP4_SSL on 993 twice, TLS 1.3 (the default suite): the first "
             "connection's keys are in the key log, the second's are taken out",
             ["implicit:993", "no-key"], sc_imaps993_tls13_nokey,
             drop_keys_of=1, retrieves=True),
]
BY_NAME = {s.name: s for s in SCENARIOS}


# ---- running a scenario: capture, client process, key log, truth ----

def wait_for_mail(count=1):
    for _ in range(150):
        n = sum(len(os.listdir(f"{MAILDIR}/{d}")) for d in ("new", "cur")
                if os.path.isdir(f"{MAILDIR}/{d}"))
        if n >= count:
            return
        time.sleep(0.2)
    raise SystemExit("tls.py: no mail arrived for alice")


def capture(path, ports):
    """tcpdump on lo into a fresh file; returns the process once it is listening."""
    flt = " or ".join(f"tcp port {p}" for p in ports)
    err = open(path + ".tcpdump", "w+")
    p = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-s", "0", "-B", "65536",
                          "-w", path, flt],
                         stdout=subprocess.DEVNULL, stderr=err)
    for _ in range(100):
        err.seek(0)
        if "listening on" in err.read():
            # tcpdump says so a moment before packets reach it.
            time.sleep(1)
            return p, err
        if p.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"tcpdump did not start: {open(path + '.tcpdump').read()}")


def stop_capture(p, err, path):
    # Without this wait the last packets can be lost (a kernel ring block not yet handed over).
    time.sleep(1)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=10)
    err.seek(0)
    text = err.read()
    err.close()
    os.unlink(path + ".tcpdump")
    if not re.search(r"^0 packets dropped by kernel", text, re.M):
        raise SystemExit(f"tcpdump dropped packets writing {path}:\n{text}")
    return int(re.search(r"^(\d+) packets captured", text, re.M).group(1))


def key_groups(text):
    """Key log lines grouped by client random, in the order the connections came. OpenSSL
    writes an "RSA <encrypted pre-master secret prefix> <pre-master secret>" line before the
    CLIENT_RANDOM line of an RSA key exchange: it goes with the connection after it."""
    groups, pending = {}, []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3 or line.startswith("#"):
            continue
        if parts[0] == "RSA":
            pending.append(line)
            continue
        groups.setdefault(parts[1].lower(), []).extend(pending + [line])
        pending = []
    if pending:
        raise SystemExit(f"key log: RSA lines without a connection after them: {pending}")
    return list(groups.items())


def run_scenario(sc, out):
    base = os.path.join(out, sc.name)
    allkeys = base + ".all.keys"
    for f in (allkeys, base + ".keys"):
        if os.path.exists(f):
            os.unlink(f)
    env = dict(os.environ)
    env.pop("SSLKEYLOGFILE", None)
    if sc.tls13:
        conf = base + ".openssl.cnf"
        open(conf, "w").write(
            "openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = dflt\n"
            f"[dflt]\nCiphersuites = {sc.tls13}\n")
        env["OPENSSL_CONF"] = conf
    if sc.retrieves:
        wait_for_mail()
    pcap = base + ".pcap"
    proc, err = capture(pcap, sc.ports)
    try:
        client = subprocess.run([sys.executable, __file__, "client", sc.name, out], env=env,
                                timeout=120)
    finally:
        packets = stop_capture(proc, err, pcap)
    if client.returncode != 0:
        raise SystemExit(f"{sc.name}: the client failed")
    truth = json.load(open(base + ".conns.json"))
    os.unlink(base + ".conns.json")
    groups = key_groups(open(allkeys).read())
    if len(groups) != len(truth):
        raise SystemExit(f"{sc.name}: {len(groups)} client randoms in the key log for "
                         f"{len(truth)} connections")
    kept = []
    for i, (conn, (random, lines)) in enumerate(zip(truth, groups)):
        conn["tls"]["client_random"] = random
        conn["tls"]["keylog_labels"] = sorted({ln.split()[0] for ln in lines})
        if i == sc.drop_keys_of:
            conn["tls"]["keys"] = False
        else:
            kept += lines
    keylog = base + ".keys"
    open(keylog, "w").write("".join(ln + "\n" for ln in kept))
    os.unlink(allkeys)
    capfile = pcap
    if sc.embed:
        capfile = base + ".pcapng"
        subprocess.run(["editcap", "--inject-secrets", f"tls,{keylog}", pcap, capfile],
                       check=True, stderr=subprocess.DEVNULL)
        os.unlink(pcap)
    doc = dict(scenario=sc.name, about=sc.about, covers=sc.covers,
               capture=os.path.basename(capfile),
               keylog=None if sc.embed else os.path.basename(keylog),
               packets=packets, connections=truth)
    json.dump(doc, open(base + ".truth.json", "w"), indent=1)
    if sc.tls13:
        os.unlink(env["OPENSSL_CONF"])
    return doc


def run_client(name, out):
    sc = BY_NAME[name]
    base = os.path.join(out, name)
    # smtplib, poplib and imaplib connect through socket.create_connection.
    socket.create_connection = create_connection
    sc.run(base + ".all.keys")
    json.dump([c.record() for c in CONNS], open(base + ".conns.json", "w"), indent=1)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "client":
        run_client(sys.argv[2], sys.argv[3])
    elif cmd == "list":
        for sc in SCENARIOS:
            print(f"{sc.name}\n    {sc.about}\n    covers: {', '.join(sc.covers)}")
    elif cmd == "run":
        out = sys.argv[2]
        os.makedirs(out, exist_ok=True)
        names = sys.argv[3:] or [s.name for s in SCENARIOS]
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            raise SystemExit(f"unknown scenarios {unknown}; tls.py list")
        # Retrievals read what the SMTP scenarios delivered: those go first.
        for name in sorted(names, key=lambda n: BY_NAME[n].retrieves):
            doc = run_scenario(BY_NAME[name], out)
            print(f"tls: {name}: {doc['packets']} packets, "
                  + "; ".join(f"{c['client']} :{c['client_port']} {c['tls']['version']} "
                              f"{c['tls']['cipher']}{' resumed' if c['tls']['resumed'] else ''}"
                              f"{'' if c['tls']['keys'] else ' (keys taken out)'}, "
                              f"{len(c['commands'])} commands, {len(c['messages'])} messages"
                              for c in doc["connections"]))
        json.dump(names, open(os.path.join(out, "index.json"), "w"))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Regenerates the captures in samples/ from real software: Postfix and Dovecot on loopback,
# driven by swaks, curl and Python's smtplib/poplib/imaplib, recorded with tcpdump; plus the
# synthetic disorder capture written by the repo's own generator; plus TLS captures with
# the key logs their clients wrote (tests/live/tls.py). Run as root from the project root:
#   samples/make-samples.sh        every sample
#   samples/make-samples.sh tls    only the TLS ones (the others stay as they are)
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD/samples
what=${1:-all}
# shellcheck source=samples/mailservers.sh
source samples/mailservers.sh

# TLS (issue 13): three scenarios of tests/live/tls.py, small, with their key logs. The
# IMAP one is a pcapng that carries its key log (editcap --inject-secrets).
make_tls() {
    local tmp
    tmp=$(mktemp -d)
    ms_clear_mail
    python3 tests/live/tls.py run "$tmp" smtp587-starttls-tls13-aes128gcm \
        pop3-110-stls-tls12-aes128cbc-sha256 imaps993-implicit-tls12-aes256gcm-embedded
    cp "$tmp/smtp587-starttls-tls13-aes128gcm.pcap" "$here/smtp-starttls-tls13.pcap"
    cp "$tmp/smtp587-starttls-tls13-aes128gcm.keys" "$here/smtp-starttls-tls13.keys"
    cp "$tmp/pop3-110-stls-tls12-aes128cbc-sha256.pcap" "$here/pop3-stls-tls12-cbc.pcap"
    cp "$tmp/pop3-110-stls-tls12-aes128cbc-sha256.keys" "$here/pop3-stls-tls12-cbc.keys"
    cp "$tmp/imaps993-implicit-tls12-aes256gcm-embedded.pcapng" "$here/imaps-tls12.pcapng"
    rm -rf "$tmp"
    chmod 644 "$here"/*.pcap* "$here"/*.keys
}

ms_install
ms_lock
trap ms_stop EXIT
ms_start
if [[ $what == tls ]]; then
    make_tls
    ls -l "$here"/*tls*
    exit 0
fi

attach=$MS_WORK/report.pdf
python3 - "$attach" <<'EOF'
import random, sys
random.seed(7)
open(sys.argv[1], "wb").write(b"%PDF-1.4\n" + bytes(random.getrandbits(8) for _ in range(6000)))
EOF

# SMTP on 25 with an attachment (swaks builds a multipart/mixed message).
ms_capture "$here/smtp-attachment.pcap" 'tcp port 25' \
    swaks --silent 1 --server 127.0.0.1 --port 25 --helo client.example.test \
    --from carol@example.net --to alice@example.test \
    --header 'Subject: Quarterly report' --body 'Hi Alice, the report is attached.' \
    --attach-type application/pdf --attach-name report.pdf --attach "@$attach"

# Submission on 587: STARTTLS then AUTH PLAIN inside TLS (what a real client does).
ms_capture "$here/submission-starttls-auth.pcap" 'tcp port 587' \
    swaks --silent 1 --server 127.0.0.1 --port 587 --helo client.example.test --tls \
    --auth PLAIN --auth-user bob --auth-password 's3cr3t pass"word' \
    --from bob@example.test --to alice@example.test --header 'Subject: sent over TLS'

# Submission on 587 with AUTH LOGIN in the clear (loopback policy allows it), so the AUTH
# exchange itself is visible.
ms_capture "$here/submission-auth-login.pcap" 'tcp port 587' \
    swaks --silent 1 --server 127.0.0.1 --port 587 --helo client.example.test \
    --auth LOGIN --auth-user alice --auth-password Wonderland-2024 \
    --from alice@example.test --to bob@example.test \
    --header 'Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgQmVybGlu?=' --body 'Encoded-word subject.'

# A message with UTF-8 and quoted-printable for the retrieval samples, via smtplib.
python3 - <<'EOF'
import smtplib
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "Dora <dora@example.net>"
m["To"] = "alice@example.test"
m["Subject"] = "Café menu"
m.set_content("Déjeuner: crème brûlée.\nLine two.\n", cte="quoted-printable")
with smtplib.SMTP("127.0.0.1", 25) as s:
    s.ehlo("client.example.test")
    s.send_message(m)
EOF
ms_wait_mail alice 3

# POP3: USER/PASS, STAT, LIST, UIDL, TOP, RETR, QUIT with poplib.
ms_capture "$here/pop3-retr.pcap" 'tcp port 110' python3 - <<'EOF'
import poplib
p = poplib.POP3("127.0.0.1", 110)
p.capa()
p.user("alice")
p.pass_("Wonderland-2024")
p.stat()
p.list()
p.uidl()
p.top(1, 0)
p.retr(1)
p.retr(3)
p.quit()
EOF

# IMAP: LOGIN, LIST, SELECT, SEARCH, FETCH of envelopes and of whole messages, LOGOUT.
ms_capture "$here/imap-fetch.pcap" 'tcp port 143' python3 - <<'EOF'
import imaplib
m = imaplib.IMAP4("127.0.0.1", 143)
m.capability()
m.login("alice", "Wonderland-2024")
m.list()
m.select("INBOX")
m.search(None, "ALL")
m.fetch("1:*", "(UID FLAGS RFC822.SIZE ENVELOPE)")
m.fetch("1", "(BODY.PEEK[])")
m.fetch("2", "(BODY[HEADER.FIELDS (SUBJECT FROM)])")
m.logout()
EOF

# curl as a second, different client for POP3 and IMAP.
ms_capture "$here/imap-curl.pcap" 'tcp port 143' \
    curl -s -o /dev/null --user 'alice:Wonderland-2024' 'imap://127.0.0.1/INBOX;MAILINDEX=2'

# PIPELINING with CHUNKING: MAIL, RCPT (one refused), BDAT LAST and the chunk in one write,
# lower-case verbs (issue 9: the envelope is settled on the replies).
ms_capture "$here/smtp-pipelined-bdat.pcap" 'tcp port 25' python3 samples/pipelined-bdat.py

make_tls

# The synthetic capture with reordering, retransmission, overlap and a gap.
cargo run --quiet --release --example synth -- sample "$here/synthetic-disorder.pcap"

chmod 644 "$here"/*.pcap
ls -l "$here"/*.pcap*

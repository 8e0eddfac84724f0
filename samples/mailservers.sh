# shellcheck shell=bash
# Real Postfix + Dovecot on 127.0.0.1, for making sample captures and for the root-only CI
# suite. Source this file, then call ms_install, ms_start and ms_stop.
#
# Loopback only and unable to send anywhere: Postfix listens on 127.0.0.1:25 and :587 (SASL
# through Dovecot, AUTH allowed without TLS so it is visible in captures), delivers
# example.test to Maildirs, bounces everything else; Dovecot serves IMAP on 143 and POP3 on
# 110 from those Maildirs. Users: alice / Wonderland-2024, bob / s3cr3t pass"word.
# TLS: one self-signed certificate (CN=mail.example.test, made here), STARTTLS on 25, 587,
# 110 and 143, implicit TLS on 465 (Postfix smtps, with AUTH like 587), 993 and 995; TLS 1.2
# and 1.3 both allowed, each side's default suites, so a client can pin a version and suite.
# Postfix resumes TLS 1.2 sessions (tlsmgr's ticket keys are shared by its smtpd processes).
# Needs root (ports below 1024, apt-get, Postfix). Idempotent: ms_start rewrites all of it.

MS_WORK=${MS_WORK:-/tmp/mailscope-servers}
MS_MAIL=/var/mail/vhosts/example.test

ms_install() {
    local need=()
    for cmd in postfix dovecot swaks tcpdump curl openssl python3 tcpflow tshark editcap ss; do
        command -v "$cmd" >/dev/null || need+=("$cmd")
    done
    if ((${#need[@]})); then
        echo "postfix postfix/main_mailer_type select Internet Site" | debconf-set-selections
        echo "postfix postfix/mailname string mail.example.test" | debconf-set-selections
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix dovecot-core \
            dovecot-imapd dovecot-pop3d swaks tcpdump curl openssl python3 tcpflow tshark iproute2
    fi
}

ms_configure() {
    rm -rf "$MS_WORK"
    mkdir -p "$MS_WORK/run"
    id vmail >/dev/null 2>&1 || useradd -r -u 5000 -U -d /var/mail/vhosts -s /usr/sbin/nologin vmail
    mkdir -p "$MS_MAIL"
    chown -R vmail:vmail /var/mail/vhosts
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=mail.example.test \
        -addext subjectAltName=DNS:mail.example.test \
        -keyout "$MS_WORK/key.pem" -out "$MS_WORK/cert.pem" >/dev/null 2>&1
    chmod 644 "$MS_WORK/cert.pem" "$MS_WORK/key.pem"
    printf 'alice@example.test example.test/alice/\nbob@example.test example.test/bob/\n' \
        >"$MS_WORK/vmailbox"
    cat >"$MS_WORK/users" <<'EOF'
alice:{PLAIN}Wonderland-2024
bob:{PLAIN}s3cr3t pass"word
EOF

    postconf -e \
        "myhostname = mail.example.test" "mydomain = example.test" "myorigin = example.test" \
        "inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" "mydestination = localhost" \
        "mynetworks = 127.0.0.0/8" "compatibility_level = 3.6" \
        "virtual_mailbox_domains = example.test" "virtual_mailbox_base = /var/mail/vhosts" \
        "virtual_mailbox_maps = texthash:$MS_WORK/vmailbox" \
        "virtual_uid_maps = static:5000" "virtual_gid_maps = static:5000" \
        "default_transport = error:outbound mail disabled" \
        "relay_transport = error:outbound mail disabled" \
        "smtpd_tls_cert_file = $MS_WORK/cert.pem" "smtpd_tls_key_file = $MS_WORK/key.pem" \
        "smtpd_tls_security_level = may" "smtputf8_enable = yes" \
        "smtpd_tls_protocols = >=TLSv1.2" "smtpd_tls_mandatory_protocols = >=TLSv1.2" \
        "smtpd_tls_loglevel = 1" \
        "smtpd_sasl_type = dovecot" "smtpd_sasl_path = private/auth" \
        "maillog_file = /var/log/mailscope-postfix.log"
    postconf -M submission/inet="submission inet n - n - - smtpd"
    postconf -P "submission/inet/smtpd_sasl_auth_enable=yes" \
        "submission/inet/smtpd_tls_auth_only=no" \
        "submission/inet/smtpd_recipient_restrictions=permit_sasl_authenticated,reject"
    # Implicit TLS (RFC 8314) on 465: submission behind a TLS handshake.
    postconf -M smtps/inet="smtps inet n - n - - smtpd"
    postconf -P "smtps/inet/smtpd_tls_wrappermode=yes" "smtps/inet/smtpd_sasl_auth_enable=yes" \
        "smtps/inet/smtpd_recipient_restrictions=permit_sasl_authenticated,reject"
    postconf -F '*/*/chroot = n'

    cat >"$MS_WORK/dovecot.conf" <<EOF
protocols = imap pop3
listen = 127.0.0.1
base_dir = $MS_WORK/run
log_path = $MS_WORK/dovecot.log
ssl = yes
ssl_cert = <$MS_WORK/cert.pem
ssl_key = <$MS_WORK/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$MS_MAIL/%n
first_valid_uid = 5000
# COMPRESS=DEFLATE (RFC 4978), as Thunderbird uses it inside TLS.
mail_plugins = \$mail_plugins zlib
protocol imap {
  mail_plugins = \$mail_plugins imap_zlib
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $MS_WORK/users
}
userdb {
  driver = static
  args = uid=5000 gid=5000 home=$MS_MAIL/%n
}
service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = 993
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 995
    ssl = yes
  }
}
service auth {
  unix_listener /var/spool/postfix/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
protocol pop3 {
  pop3_uidl_format = %08Xu%08Xv
}
EOF
}

ms_wait_port() {
    local port=$1
    for _ in $(seq 50); do
        (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.2
    done
    echo "port $port did not open" >&2
    return 1
}

ms_start() {
    # Servers still running from an earlier start are stopped first: configuring anew
    # replaces their run directory (Dovecot's auth socket) under them.
    ms_stop
    ms_configure
    # The daemons must not inherit ms_lock's descriptor: they would hold the lock after
    # this shell is gone.
    local fd=${MS_LOCK_FD:-9}
    dovecot -c "$MS_WORK/dovecot.conf" >"$MS_WORK/dovecot.out" 2>&1 {fd}>&-
    postfix start >"$MS_WORK/postfix.out" 2>&1 {fd}>&-
    local port
    for port in 25 587 465 110 143 995 993; do
        ms_wait_port "$port" || return 1
    done
}

ms_stop() {
    postfix stop >/dev/null 2>&1 || true
    if [[ -f $MS_WORK/run/master.pid ]]; then
        local pid
        pid=$(cat "$MS_WORK/run/master.pid")
        kill "$pid" 2>/dev/null || true
        # Gone before anything starts again on its sockets.
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
}

# Waits until `count` messages sit in a user's Maildir.
ms_wait_mail() {
    local user=$1 count=$2
    for _ in $(seq 100); do
        local n
        n=$(find "$MS_MAIL/$user/new" "$MS_MAIL/$user/cur" -type f 2>/dev/null | wc -l)
        ((n >= count)) && return 0
        sleep 0.2
    done
    echo "mail for $user did not arrive" >&2
    return 1
}

# capture FILE FILTER COMMAND...: records loopback traffic matching FILTER while COMMAND runs.
ms_capture() {
    local file=$1 filter=$2
    shift 2
    # A 64 MiB kernel buffer: loopback segments are up to 64 KiB, and a busy machine
    # otherwise drops packets (then the capture, not the analyzer, has gaps).
    tcpdump -i lo -U -s 0 -B 65536 -w "$file" "$filter" >"$MS_WORK/tcpdump.out" 2>&1 &
    local pid=$!
    sleep 1
    "$@"
    sleep 1
    kill -INT "$pid"
    wait "$pid" || true
    if ! grep -q '^0 packets dropped by kernel' "$MS_WORK/tcpdump.out"; then
        echo "ms_capture: tcpdump dropped packets writing $file:" >&2
        cat "$MS_WORK/tcpdump.out" >&2
        return 1
    fi
}

# Empties every Maildir, so a run's retrievals see only the mail that run sent.
ms_clear_mail() {
    find "$MS_MAIL" -mindepth 3 -maxdepth 3 -path '*/new/*' -type f -delete 2>/dev/null || true
    find "$MS_MAIL" -mindepth 3 -maxdepth 3 -path '*/cur/*' -type f -delete 2>/dev/null || true
}

# Takes the machine's one set of mail servers for this shell (until it exits): they listen on
# fixed ports and share MS_WORK, so two suites at once would stop each other's servers.
ms_lock() {
    exec {MS_LOCK_FD}>/tmp/mailscope-servers.lock
    flock -w 900 "$MS_LOCK_FD" || { echo "ms_lock: the mail servers stayed busy" >&2; return 1; }
}

#!/bin/sh
# Regenerates the smime_*.eml test mails with OpenSSL and a throwaway key (made here,
# not kept). Their shapes follow Thunderbird's S/MIME test mails
# (mailnews/test/data/smime in comm-central, MPL 2.0) and what Outlook and Apple Mail
# send; the content is ours. Run from this folder: sh make_smime.sh
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 36500 -subj "/CN=Jana Kunde/emailAddress=jana.kunde@kunde.example" 2>/dev/null
head='From: Jana Kunde <jana.kunde@kunde.example>
To: support@laderthuis.nl
Date: Tue, 10 Nov 2026 09:15:00 +0100'
crlf() { sed 's/$/\r/'; }

# the signed or encrypted content: a text and a PDF
printf '%s\n' \
  'Content-Type: multipart/mixed; boundary="inner-1"' '' \
  '--inner-1' 'Content-Type: text/plain; charset=utf-8' 'Content-Transfer-Encoding: quoted-printable' '' \
  'Guten Tag, anbei die unterschriebene Auftragsbest=C3=A4tigung.' '' \
  '--inner-1' 'Content-Type: application/pdf; name="Auftragsbestaetigung.pdf"' \
  'Content-Disposition: attachment; filename="Auftragsbestaetigung.pdf"' \
  'Content-Transfer-Encoding: base64' '' 'JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCiUlRU9GCg==' \
  '--inner-1--' | crlf > "$work/mixed.txt"
printf 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGuten Tag, die Zählernummer ist 4711.\r\n' > "$work/plain.txt"

# 1. clear-signed (Thunderbird): multipart/signed, application/pkcs7-signature smime.p7s
{ printf '%s\nSubject: Auftragsbestätigung (signiert)\nMessage-ID: <smime-clear-1@kunde.example>\n' "$head"
  openssl smime -sign -in "$work/mixed.txt" -signer "$work/cert.pem" -inkey "$work/key.pem" \
    | sed 's#application/x-pkcs7-signature#application/pkcs7-signature#'
} > smime_clear_signed.eml
# 2. clear-signed, x-pkcs7-signature without Content-Disposition (older Outlook)
{ printf '%s\nSubject: =?utf-8?q?Z=C3=A4hlernummer?=\nMessage-ID: <smime-clear-2@kunde.example>\n' "$head"
  openssl smime -sign -in "$work/plain.txt" -signer "$work/cert.pem" -inkey "$work/key.pem" \
    | grep -v '^Content-Disposition'
} > smime_clear_signed_no_disposition.eml
# 3. opaque-signed: application/pkcs7-mime; smime-type=signed-data (the content is inside)
{ printf '%s\nSubject: Opak signiert\nMessage-ID: <smime-opaque-1@kunde.example>\n' "$head"
  openssl smime -sign -nodetach -in "$work/mixed.txt" -signer "$work/cert.pem" -inkey "$work/key.pem" \
    | sed 's#application/x-pkcs7-mime#application/pkcs7-mime#'
} > smime_opaque_signed.eml
# 4. opaque-signed without Content-Disposition: the whole mail is the p7m
{ printf '%s\nSubject: Opak signiert ohne Disposition\nMessage-ID: <smime-opaque-2@kunde.example>\n' "$head"
  openssl smime -sign -nodetach -in "$work/plain.txt" -signer "$work/cert.pem" -inkey "$work/key.pem" \
    | grep -v '^Content-Disposition'
} > smime_opaque_signed_no_disposition.eml
# 5. enveloped (encrypted): application/pkcs7-mime; smime-type=enveloped-data
{ printf '%s\nSubject: Verschlüsselt\nMessage-ID: <smime-env-1@kunde.example>\n' "$head"
  openssl smime -encrypt -aes256 -in "$work/mixed.txt" "$work/cert.pem" \
    | sed 's#application/x-pkcs7-mime#application/pkcs7-mime#'
} > smime_enveloped.eml
# 6. enveloped as old Outlook sends it: no smime-type, no Content-Disposition
{ printf '%s\nSubject: Verschluesselt (Outlook)\nMessage-ID: <smime-env-2@kunde.example>\n' "$head"
  openssl smime -encrypt -aes256 -in "$work/plain.txt" "$work/cert.pem" \
    | grep -v '^Content-Disposition' | sed 's#; smime-type=enveloped-data##'
} > smime_enveloped_outlook_no_type.eml
# 7. signed, then encrypted (the usual order): only "encrypted" can be seen from outside
openssl smime -sign -in "$work/mixed.txt" -signer "$work/cert.pem" -inkey "$work/key.pem" > "$work/signed.txt"
{ printf '%s\nSubject: Signiert und verschlüsselt\nMessage-ID: <smime-env-3@kunde.example>\n' "$head"
  openssl smime -encrypt -aes256 -in "$work/signed.txt" "$work/cert.pem"
} > smime_signed_then_enveloped.eml

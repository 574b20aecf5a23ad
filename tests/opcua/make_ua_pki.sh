#!/bin/sh
# OPC UA test PKI (RSA 2048; OPC UA application certificates carry the application URI in the SAN):
#   ca.pem/ca.der/ca.key            test CA (also copied into trust/ for the asyncua server)
#   server.der/server.key           URI:urn:tagwire:test:server, DNS:localhost, IP:127.0.0.1
#   client.pem/client.key           URI:urn:tagwire:test:client (PEM), client.der (DER)
#   rogue-ca.der, rogue-client.*    a CA nobody trusts and a client certificate it issued
# Usage: make_ua_pki.sh DIR
set -eu
dir=$1
mkdir -p "$dir/trust"
cd "$dir"
newkey() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }
mkca() {
  newkey "$1.key"
  openssl req -new -x509 -key "$1.key" -out "$1.pem" -days 2 -subj "/O=tagwire test/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
  openssl x509 -in "$1.pem" -outform DER -out "$1.der"
}
issue() { # name ca cn uri eku extra-san
  newkey "$1.key"
  openssl req -new -key "$1.key" -subj "/O=tagwire test/CN=$3" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=URI:%s%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment\nextendedKeyUsage=%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' \
    "$4" "$6" "$5" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 -sha256 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  openssl x509 -in "$1.pem" -outform DER -out "$1.der"
}
mkca ca "tagwire test UA CA"
mkca rogue-ca "rogue UA CA"
issue server ca "tagwire test server" urn:tagwire:test:server serverAuth,clientAuth ",DNS:localhost,IP:127.0.0.1"
issue client ca "tagwire test client" urn:tagwire:test:client clientAuth,serverAuth ""
issue rogue-client rogue-ca "rogue client" urn:tagwire:test:client clientAuth,serverAuth ""
cp ca.der trust/ca.der
printf 'secret\n' > password
printf 'wrong\n' > badpassword

# Shell helpers shared by the end-to-end test scripts (sourced; POSIX sh + bash).
# SPDX-License-Identifier: Apache-2.0

# A free TCP port on 127.0.0.1 (bound once by the kernel, then released for the peer to bind).
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until something listens on 127.0.0.1:PORT, without connecting to it; up to 30 s (a
# loaded machine). Returns 1 on timeout.
wait_listen() { # PORT
  for _ in $(seq 300); do
    ss -ltn "( sport = :$1 )" | grep -q LISTEN && return 0
    sleep 0.1
  done
  return 1
}

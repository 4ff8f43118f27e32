// Listening-socket options for lshd's HTTP listeners.
//
// cpp-httplib's default sets SO_REUSEPORT as well as SO_REUSEADDR, which
// lets a second process bind the same port and silently share its traffic:
// a second lshd on port 3030 would start "successfully" and answer half the
// requests from another database. lshd keeps SO_REUSEADDR (a restart can
// rebind at once) and drops SO_REUSEPORT, so a taken port is a clear error.
//
// Thread-safety: a pure function of the socket.
#pragma once

#include <sys/socket.h>

namespace lsh::http {

inline void ExclusiveListenSocket(int sock) {
  int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

}  // namespace lsh::http

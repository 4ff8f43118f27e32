// Ids: UUIDv7 strings (RFC 9562): 48 bits of Unix milliseconds, then random
// bits, so ids sort by creation time and map one to one onto the uuid
// columns of the replication target. Within one millisecond the random part
// is incremented (monotonic), so ids made by one process strictly increase.
//
// Thread-safety: NewUuidV7 may be called from any thread.
#pragma once

#include <string>
#include <string_view>

#include "core/clock.h"

namespace lsh {

std::string NewUuidV7(SysTime now);
bool IsUuid(std::string_view s);  // 8-4-4-4-12 lowercase or uppercase hex

}  // namespace lsh

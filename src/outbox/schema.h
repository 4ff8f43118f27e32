// The remote schema (migrations/supabase/*.sql, compiled into the binary by
// cmake/embed_supabase_schema.cmake): the tables the relay fills, with the
// version guard. `lshd supabase-schema` prints it.
//
// Thread-safety: a constant.
#pragma once

namespace lsh::outbox {

const char* RemoteSchemaSql();

}  // namespace lsh::outbox

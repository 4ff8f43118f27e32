// Default sanitizer options of a sanitizer build (LSH_SANITIZE / LSH_FUZZ),
// linked into lshd and every test and fuzz executable of such a tree, so the
// tests, the lshd they spawn and a developer's shell behave alike. The
// *_OPTIONS environment variables still apply on top (scripts/test adds
// log_path there to collect reports).
//
// Each function is looked up by the sanitizer runtime at startup; one whose
// sanitizer is not linked in is simply never called.
//
// Thread-safety: called once by the runtime before main.

#define LSH_SANITIZER_API extern "C" __attribute__((visibility("default"), used))

// Halt at the first finding; report leaks at exit; check static
// initialisation order. The suppressions file lists findings in Debian's
// libraries, each with a reason.
LSH_SANITIZER_API const char* __asan_default_options() {
  return "halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:"
         "detect_odr_violation=2";
}

LSH_SANITIZER_API const char* __lsan_default_options() {
  return "suppressions=" LSH_SANITIZER_DIR "/lsan.supp:print_suppressions=0";
}

LSH_SANITIZER_API const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1:report_error_type=1";
}

LSH_SANITIZER_API const char* __tsan_default_options() {
  return "halt_on_error=1:second_deadlock_stack=1:suppressions=" LSH_SANITIZER_DIR
         "/tsan.supp:print_suppressions=0";
}

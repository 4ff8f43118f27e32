#include <cstdio>
int main() { std::puts("lshd " LSH_VERSION); return 0; }

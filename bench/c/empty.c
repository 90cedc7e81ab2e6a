/* The cost of a process and nothing else: exec, exit. */
int main(void) { return 0; }

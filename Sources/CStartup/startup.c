/*
 * How the Swift runtime finds the command line, made cheap.
 *
 * On Linux, libswiftCore's CommandLine.cpp finds argv with a static
 * initializer that opens /proc/self/maps and parses it with sscanf, in every
 * process, before main. For a receiver that lives for one CGI request that is
 * about a third of all the instructions the Swift runtime spends on start-up
 * (bench/RESULTS.md), and it fails outright where /proc is not mounted.
 *
 * glibc passes argc, argv and envp to every .init_array function, so argv is
 * simply handed to us. This file defines the two entry points CommandLine.cpp
 * provides. Because our object files come before libswiftCore.a on the link
 * line, the linker resolves those names here and never pulls CommandLine.cpp.o
 * out of the archive, so its initializer is not linked at all. Should a later
 * toolchain add another symbol to that file, the link fails loudly with a
 * duplicate definition rather than misbehaving.
 */
#include "CStartup.h"

#include <stddef.h>

static int saved_argc;
static char **saved_argv;

static void chathooks_grab_argv(int argc, char **argv, char **envp) {
    (void)envp;
    saved_argc = argc;
    saved_argv = argv;
}

__attribute__((section(".init_array"), used))
static void (*const chathooks_grab_argv_entry)(int, char **, char **) = chathooks_grab_argv;

char **_swift_stdlib_getUnsafeArgvArgc(int *outArgLen) {
    static char *empty[] = {NULL};
    if (saved_argv == NULL) {
        *outArgLen = 0;
        return empty;
    }
    *outArgLen = saved_argc;
    return saved_argv;
}

void _swift_stdlib_overrideUnsafeArgvArgc(char **argv, int argc) {
    saved_argv = argv;
    saved_argc = argc;
}

/*
 * The crash backtracer's helper, never looked for.
 *
 * At start-up the runtime's backtracer looks for its helper program,
 * swift-backtrace, next to the executable and in the toolchain's libexec
 * folders: a readlink and nine failed stat calls in every process, about 0.05
 * ms of a CGI request here. No deployment of ours has the helper (it is not
 * part of a static executable), so the search can only fail. This definition
 * answers "not found" at once; the backtracer then stays off, as it would
 * have, and the crash guard (CrashGuard.swift) still answers a crash with a
 * 500. It is the only function of Paths.cpp that the runtime uses, so that
 * file is not linked at all; a toolchain that needed it again would fail to
 * link with a duplicate definition rather than misbehave.
 */
char *swift_copyAuxiliaryExecutablePath(const char *name) {
    (void)name;
    return NULL;
}

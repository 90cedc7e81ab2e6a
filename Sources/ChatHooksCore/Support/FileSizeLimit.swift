import Glibc

/// Shared hosts set a file-size limit (`RLIMIT_FSIZE`). A write past it raises
/// SIGXFSZ, whose default action kills the process: no answer at all (the web
/// server shows a 502), half a line left in the journal, a FastCGI server gone.
/// Ignored, the same write fails with `EFBIG` instead, the line is cut back and
/// the answer is an honest 500 `journal_failed`. (Programs that actions run get
/// the default action back: see `Subprocess`.)
public enum FileSizeLimit {
    public static func ignoreSignal() {
        signal(SIGXFSZ, SIG_IGN)
    }
}

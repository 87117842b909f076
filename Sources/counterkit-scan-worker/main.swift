import Scanning

#if canImport(Glibc)
    import Glibc
#endif

// The scan worker on its own: libsane in a process that links only what scanning needs, so it starts
// in a few milliseconds (the full `counterkit` binary also loads the service, cameras and pads).
exit(ScanWorker.run())

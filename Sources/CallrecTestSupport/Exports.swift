// The capture generators moved to CallSynthesis so `callrec bench` can use
// them without depending on test support; tests keep reaching them here.
@_exported import CallSynthesis

/// A processing stage: typed input, typed output, driven by a plain loop.
/// The unit of work is a packet or a 20 ms frame, never a sample. Back
/// pressure is the synchronous push: the driver pushes one input through
/// before it reads the next.
public protocol Stage<Input, Output> {
    associatedtype Input
    associatedtype Output
    /// Takes one input and emits zero or more outputs.
    mutating func process(_ input: borrowing Input, emit: (consuming Output) throws -> Void) throws
    /// Emits whatever is still held at the end of the input.
    mutating func finish(emit: (consuming Output) throws -> Void) throws
}

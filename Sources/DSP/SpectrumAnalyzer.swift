import CFFTW
import CallrecCore

#if canImport(Glibc)
import Glibc
#endif

/// The power spectrum of a block of samples, through FFTW (single
/// precision, real input, Hann window). One owner per plan and its aligned
/// buffers: made in `init`, destroyed in `deinit`. The corresponding C
/// functions are `fftwf_plan_dft_r2c_1d` and `fftwf_execute`.
public final class SpectrumAnalyzer {
    /// FFT length in samples (a power of two).
    public let size: Int
    /// Power per bin, `size / 2 + 1` bins, after `analyze`.
    public private(set) var power: [Float]

    private let input: UnsafeMutablePointer<Float>
    private let output: UnsafeMutablePointer<fftwf_complex>
    private let plan: fftwf_plan
    private let window: [Float]


    public init(size: Int) {
        precondition(size >= 8 && size & (size - 1) == 0, "FFT size must be a power of two")
        self.size = size
        let (input, output) = (fftwf_alloc_real(size)!, fftwf_alloc_complex(size / 2 + 1)!)
        self.input = input
        self.output = output
        plan = fftwPlanner.withLock { fftwf_plan_dft_r2c_1d(Int32(size), input, output, callrec_fftw_estimate)! }
        power = [Float](repeating: 0, count: size / 2 + 1)
        window = (0..<size).map { Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(size))) }
    }

    deinit {
        fftwPlanner.withLock { fftwf_destroy_plan(plan) }
        fftwf_free(input)
        fftwf_free(output)
    }

    /// Windows the last `size` samples of `samples` (zero-padded in front
    /// when there are fewer), transforms them and fills `power`.
    public func analyze(_ samples: UnsafeBufferPointer<Float>) {
        let n = min(samples.count, size)
        let pad = size - n
        // SAFETY: input holds `size` floats; pad + n == size.
        for i in 0..<pad { input[i] = 0 }
        for i in 0..<n { input[pad + i] = samples[samples.count - n + i] * window[pad + i] }
        fftwf_execute(plan)
        power.withUnsafeMutableBufferPointer { p in
            for k in 0..<p.count {
                let (re, im) = output[k]
                p[k] = re * re + im * im
            }
        }
    }
}

/// FFTW's planner is not thread-safe (execution is): plans are made and
/// destroyed under this lock, which lives for the whole process.
private let fftwPlanner = Lock()

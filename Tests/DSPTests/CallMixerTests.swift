import DSP
import Testing

@Suite struct CallMixerTests {
    /// Collects emitted frames as per-channel arrays.
    final class Sink {
        var channels: [[Int16]]
        init(_ n: Int) { channels = Array(repeating: [], count: n) }
        func take(_ frame: UnsafeBufferPointer<Int16>, _ position: Int64) {
            let n = channels.count
            for i in 0..<(frame.count / n) { for c in 0..<n { channels[c].append(frame[i * n + c]) } }
        }
    }

    @Test func placesLegsByPositionAndKeepsGaps() {
        var mixer = CallMixer(channels: 2, frameSamples: 4, capacityFrames: 4)
        let sink = Sink(2)
        let a: [Int16] = [1, 2, 3, 4]
        let b: [Int16] = [9, 9]
        _ = a.withUnsafeBufferPointer { mixer.write(channel: 0, at: 0, samples: $0, emit: sink.take) }
        _ = b.withUnsafeBufferPointer { mixer.write(channel: 1, at: 6, samples: $0, emit: sink.take) }
        _ = a.withUnsafeBufferPointer { mixer.write(channel: 0, at: 10, samples: $0, emit: sink.take) }
        let length = mixer.finish(emit: sink.take)
        #expect(length == 14)
        #expect(sink.channels[0] == [1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0])
        #expect(sink.channels[1] == [0, 0, 0, 0, 0, 0, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func anExtraInputIsSummedIntoItsChannelWhicheverIsWrittenFirst() {
        // Channels 0 and 1, extra inputs 2 (into 0) and 3 (into 1).
        var mixer = CallMixer(channels: 2, frameSamples: 4, capacityFrames: 4, extraChannels: 2)
        let sink = Sink(2)
        _ = [Int16(100), 200, 30_000, -30_000].withUnsafeBufferPointer { mixer.write(channel: 2, at: 0, samples: $0, emit: sink.take) }
        _ = [Int16(1), 2, 10_000, -10_000].withUnsafeBufferPointer { mixer.write(channel: 0, at: 0, samples: $0, emit: sink.take) }
        _ = [Int16(5), 5].withUnsafeBufferPointer { mixer.write(channel: 3, at: 2, samples: $0, emit: sink.take) }
        mixer.finish(emit: sink.take)
        // Saturating: 30000 + 10000 is 32767, never a wrap-around.
        #expect(sink.channels[0] == [101, 202, 32_767, -32_768])
        #expect(sink.channels[1] == [0, 0, 5, 5])
    }

    @Test func reordersWithinTheWindowAndDropsLateAudio() {
        var mixer = CallMixer(channels: 1, frameSamples: 2, capacityFrames: 8)
        let sink = Sink(1)
        _ = [Int16(3), 4].withUnsafeBufferPointer { mixer.write(channel: 0, at: 2, samples: $0, emit: sink.take) }
        _ = [Int16(1), 2].withUnsafeBufferPointer { mixer.write(channel: 0, at: 0, samples: $0, emit: sink.take) }
        mixer.advance(to: 4, emit: sink.take)
        let dropped = [Int16(7), 7].withUnsafeBufferPointer { mixer.write(channel: 0, at: 2, samples: $0, emit: sink.take) }
        #expect(dropped == 2)
        #expect(mixer.lateSamples == 2)
        mixer.finish(emit: sink.take)
        #expect(sink.channels[0] == [1, 2, 3, 4])
    }

    @Test func aWriteFarAheadFlushesInsteadOfGrowing() {
        var mixer = CallMixer(channels: 1, frameSamples: 2, capacityFrames: 2)
        let sink = Sink(1)
        _ = [Int16(5), 5].withUnsafeBufferPointer { mixer.write(channel: 0, at: 0, samples: $0, emit: sink.take) }
        _ = [Int16(6), 6].withUnsafeBufferPointer { mixer.write(channel: 0, at: 10, samples: $0, emit: sink.take) }
        // The ring holds 4 samples: writing at 10..<12 forced frames up to 8 out.
        #expect(sink.channels[0].count == 8)
        mixer.finish(emit: sink.take)
        #expect(sink.channels[0] == [5, 5, 0, 0, 0, 0, 0, 0, 0, 0, 6, 6])
    }

    @Test func aLaggingLegGrowsTheRingAndEveryInputKeepsItsPlace() {
        // Ring of 4 samples, may grow to 16: a write 10 ahead grows it instead of flushing the lagging leg.
        var mixer = CallMixer(channels: 2, frameSamples: 2, capacityFrames: 2, extraChannels: 2, maxCapacityFrames: 8)
        let sink = Sink(2)
        _ = [Int16(1), 1].withUnsafeBufferPointer { mixer.write(channel: 0, at: 0, samples: $0, emit: sink.take) }
        _ = [Int16(2), 2].withUnsafeBufferPointer { mixer.write(channel: 2, at: 2, samples: $0, emit: sink.take) }
        _ = [Int16(3), 3].withUnsafeBufferPointer { mixer.write(channel: 3, at: 1, samples: $0, emit: sink.take) }
        _ = [Int16(6), 6].withUnsafeBufferPointer { mixer.write(channel: 1, at: 10, samples: $0, emit: sink.take) }
        #expect(sink.channels[0].isEmpty)
        #expect(mixer.capacity == 16)
        // The lagging leg's late audio still lands where its timestamps put it.
        _ = [Int16(4), 4].withUnsafeBufferPointer { mixer.write(channel: 0, at: 4, samples: $0, emit: sink.take) }
        mixer.finish(emit: sink.take)
        #expect(sink.channels[0] == [1, 1, 2, 2, 4, 4, 0, 0, 0, 0, 0, 0])
        #expect(sink.channels[1] == [0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 6, 6])
    }
}

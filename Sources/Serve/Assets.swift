/// The one script and the style sheet, compiled into the binary (served at
/// `/static/app.js` and `/static/app.css`): no framework, no build step,
/// nothing fetched from elsewhere.
enum Assets {
    /// The call page: a canvas lane per speaker drawn from the peaks, speech
    /// and overtalk shaded and DTMF marked from the index, and the player
    /// (play/pause, ±10 s, speed, click or drag to seek, keyboard shortcuts).
    static let script = #"""
        // callrec serve: the call page's waveform lanes and player.
        const section = document.getElementById('player');
        if (section) start(section);

        async function getJSON(url) {
          const response = await fetch(url, { credentials: 'same-origin' });
          if (!response.ok) return null;
          return response.json();
        }

        function clock(s) {
          s = Math.max(0, Math.floor(s));
          const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = String(s % 60).padStart(2, '0');
          return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`;
        }

        // Where both speak at once: the intersection of two sorted lists of [start, end].
        function overlap(a, b) {
          const out = [];
          let i = 0, j = 0;
          while (i < a.length && j < b.length) {
            const s = Math.max(a[i][0], b[j][0]), e = Math.min(a[i][1], b[j][1]);
            if (s < e) out.push([s, e]);
            if (a[i][1] < b[j][1]) i++; else j++;
          }
          return out;
        }

        async function start(section) {
          const id = encodeURIComponent(section.dataset.call);
          const audio = document.getElementById('audio');
          const lanes = document.getElementById('lanes');
          const playButton = document.getElementById('play');
          const timeText = document.getElementById('time');
          const speed = document.getElementById('speed');
          const [call, peaks] = await Promise.all([getJSON(`/api/calls/${id}`), getJSON(`/api/calls/${id}/peaks`)]);
          const index = call ? call.index : null;
          const length = () => (isFinite(audio.duration) && audio.duration > 0 ? audio.duration : (index ? index.duration_s : 0));
          const channels = peaks ? peaks.channels : (index ? index.channels.length : 1);
          const speech = index ? index.channels.map((c) => c.speech || []) : [];
          const both = speech.length >= 2 ? overlap(speech[0], speech[1]) : [];
          // The loudest peak fills the lane (speech on a phone line rarely nears full scale).
          let loudest = 1;
          if (peaks) for (const v of peaks.data) loudest = Math.max(loudest, Math.abs(v));
          const canvases = [];
          for (let c = 0; c < channels; c++) {
            const lane = document.createElement('div');
            lane.className = 'lane';
            const label = document.createElement('span');
            label.textContent = index && index.channels[c] ? index.channels[c].speaker : `channel ${c}`;
            const canvas = document.createElement('canvas');
            canvas.dataset.channel = String(c);
            lane.append(label, canvas);
            lanes.append(lane);
            canvases.push(canvas);
          }

          function draw() {
            const total = length();
            for (const canvas of canvases) {
              const c = Number(canvas.dataset.channel);
              const width = Math.max(1, Math.floor(canvas.clientWidth * devicePixelRatio));
              const height = Math.max(1, Math.floor(canvas.clientHeight * devicePixelRatio));
              if (canvas.width !== width) canvas.width = width;
              if (canvas.height !== height) canvas.height = height;
              const g = canvas.getContext('2d');
              g.clearRect(0, 0, width, height);
              const x = (t) => (total > 0 ? (t / total) * width : 0);
              g.fillStyle = '#dcebdc';
              for (const [s, e] of speech[c] || []) g.fillRect(x(s), 0, Math.max(1, x(e) - x(s)), height);
              g.fillStyle = '#f3c9c9';
              for (const [s, e] of both) g.fillRect(x(s), 0, Math.max(1, x(e) - x(s)), height);
              if (peaks && peaks.length > 0) {
                const full = loudest * 1.05, step = peaks.channels * 2;
                g.fillStyle = '#2b5d8a';
                for (let px = 0; px < width; px++) {
                  const from = Math.floor((px / width) * peaks.length), to = Math.max(from + 1, Math.floor(((px + 1) / width) * peaks.length));
                  let lo = 0, hi = 0;
                  for (let i = from; i < to && i < peaks.length; i++) {
                    lo = Math.min(lo, peaks.data[i * step + c * 2]);
                    hi = Math.max(hi, peaks.data[i * step + c * 2 + 1]);
                  }
                  const top = height / 2 - (hi / full) * (height / 2), bottom = height / 2 - (lo / full) * (height / 2);
                  g.fillRect(px, top, 1, Math.max(1, bottom - top));
                }
              }
              g.fillStyle = '#b35c00';
              for (const d of (index && index.dtmf) || []) if (d.channel === c) g.fillRect(x(d.at_s), 0, 2, height);
              g.fillStyle = '#000';
              g.fillRect(x(audio.currentTime), 0, 2, height);
            }
            timeText.textContent = `${clock(audio.currentTime)} / ${clock(length())}`;
          }

          function seekTo(event, canvas) {
            const box = canvas.getBoundingClientRect();
            const share = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
            audio.currentTime = share * length();
            draw();
          }
          for (const canvas of canvases) {
            canvas.addEventListener('pointerdown', (event) => {
              canvas.setPointerCapture(event.pointerId);
              seekTo(event, canvas);
            });
            canvas.addEventListener('pointermove', (event) => {
              if (canvas.hasPointerCapture(event.pointerId)) seekTo(event, canvas);
            });
          }

          const toggle = () => (audio.paused ? audio.play() : audio.pause());
          const skip = (s) => { audio.currentTime = Math.min(length(), Math.max(0, audio.currentTime + s)); draw(); };
          const setSpeed = (v) => { audio.playbackRate = Number(v); speed.value = String(v); };
          playButton.addEventListener('click', toggle);
          document.getElementById('back').addEventListener('click', () => skip(-10));
          document.getElementById('forward').addEventListener('click', () => skip(10));
          speed.addEventListener('change', () => setSpeed(speed.value));
          document.addEventListener('keydown', (event) => {
            if (event.target.closest('input, select, textarea') || event.ctrlKey || event.metaKey || event.altKey) return;
            const keys = { ' ': toggle, ArrowLeft: () => skip(-10), ArrowRight: () => skip(10), 1: () => setSpeed(1), 2: () => setSpeed(1.5), 3: () => setSpeed(2) };
            if (keys[event.key]) { event.preventDefault(); keys[event.key](); }
          });
          let frame = 0;
          const animate = () => { draw(); frame = audio.paused ? 0 : requestAnimationFrame(animate); };
          audio.addEventListener('play', () => { playButton.textContent = 'Pause'; if (!frame) frame = requestAnimationFrame(animate); });
          audio.addEventListener('pause', () => { playButton.textContent = 'Play'; draw(); });
          for (const name of ['loadedmetadata', 'seeked', 'timeupdate']) audio.addEventListener(name, draw);
          addEventListener('resize', draw);
          section.dataset.ready = 'true';
          draw();
        }
        """#

    static let style = """
        body { font: 15px/1.4 system-ui, sans-serif; margin: 0; color: #1d1d1d; background: #fafafa; }
        header { display: flex; gap: 1em; align-items: center; padding: .6em 1.2em; background: #23364a; color: #fff; }
        header a.brand { color: #fff; font-weight: bold; text-decoration: none; }
        header .who { margin-left: auto; }
        header a.nav { color: #dde; }
        tr.refused td { color: #a00; }
        header form { margin: 0; }
        main { padding: 1em 1.2em; max-width: 72em; }
        form.search, form.login { display: flex; flex-wrap: wrap; gap: .8em; align-items: end; margin-bottom: 1em; }
        form.login { flex-direction: column; align-items: start; }
        label { display: flex; flex-direction: column; font-size: .85em; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #ddd; }
        .error { color: #a00; }
        .facts { color: #444; }
        #lanes .lane { display: flex; align-items: center; gap: .5em; margin: .3em 0; }
        #lanes .lane span { width: 4em; font-size: .85em; color: #555; }
        #lanes canvas { flex: 1; height: 80px; background: #fff; border: 1px solid #ccc; cursor: pointer; touch-action: none; }
        .controls { display: flex; gap: .6em; align-items: center; flex-wrap: wrap; margin: .6em 0; }
        .controls label { flex-direction: row; gap: .3em; align-items: center; }
        .keys { color: #777; font-size: .8em; }
        form.inline { display: inline; }
        form.note { display: flex; flex-direction: column; gap: .4em; max-width: 40em; }
        #notes .author { font-weight: bold; }
        #tags { display: flex; gap: .6em; list-style: none; padding: 0; }
        .tag { background: #e6eef6; padding: .1em .5em; border-radius: .6em; }
        """
}

// The trained network in the browser: its forward pass and the MNIST-style preparation of a drawing,
// so a page (or an offline report) can read a digit while it is being drawn, with no server.
//
// Both follow core exactly: the forward pass is core/inspect/forward.py forward_pass (Keras 3's SimpleRNN,
// LSTM and GRU cells) in float64, the preparation is core/inspect/own_digit.py mnist_steps, including Pillow's
// bilinear resampling; tests/test_network_js.py and tests/test_network_prepare_js.py compare them.
//
// One file, two ways in. As a classic <script> (an offline HTML file inlines it) and at the head of a
// Streamlit component's ES module (dashboard/components/network with_network), it runs once and puts
// one namespace object, globalThis.RnnNetwork, on the page: no second copy of the code, no import.
// It must stay valid as both, so: no import or export statements here, strict-mode code only, and no
// closing script tag anywhere in the text.
(function () {
  "use strict";

  const IMAGE_SIZE = 28;  // rows (timesteps) and pixels per row
  const PIXELS = IMAGE_SIZE * IMAGE_SIZE;
  const CLASSES = 10;
  const CELLS = ["rnn", "lstm", "gru"];
  const GATES = {rnn: 1, lstm: 4, gru: 3};  // blocks of `units` columns in the kernels
  const PAYLOAD_FORMAT = "rnn-network";  // the payload's writer is dashboard/components/network
  const PAYLOAD_VERSION = 1;
  // core/inspect/own_digit.py's constants.
  const DIGIT_BOX = 20;
  const MNIST_CENTRE = IMAGE_SIZE / 2;
  const MIN_CONTRAST = 0.15;
  const NOISE_LEVEL = 0.1;
  const BLANK_MESSAGE = "no digit found: the picture is empty or blank (draw or upload one digit, " +
    "dark on light or light on dark)";
  const VANISHED_MESSAGE = "no digit found: the ink vanished when scaled to 20x20 (draw a bolder stroke)";

  // A payload or an input that cannot be used; its message is meant for the page, one line.
  class NetworkError extends Error {
    constructor(message) {
      super(message);
      this.name = "NetworkError";
    }
  }

  // A shape as Python prints a tuple, so messages read like core's; a size that is no number is quoted.
  const formatShape = (shape) => {
    const sizes = shape.map((size) => (typeof size === "number" ? String(size) : JSON.stringify(size)));
    return `(${sizes.join(", ")}${shape.length === 1 ? "," : ""})`;
  };

  // A base64 string of little-endian float32 values -> Float32Array of `count` values. Weights stay
  // float32 (they are float32 values: nothing is lost, and half the bytes to stream through per step);
  // every sum and state is a JS number, float64.
  function decodeFloat32(base64, count, what) {
    if (typeof base64 !== "string") throw new NetworkError(`${what}: data must be a base64 string`);
    let bytes;
    try {
      bytes = atob(base64);
    } catch (error) {
      throw new NetworkError(`${what}: data is not valid base64`);
    }
    if (bytes.length !== 4 * count) {
      throw new NetworkError(`${what}: data holds ${bytes.length} bytes; expected ${4 * count} (${count} float32 values)`);
    }
    const view = new DataView(new ArrayBuffer(bytes.length));
    for (let index = 0; index < bytes.length; index++) view.setUint8(index, bytes.charCodeAt(index));
    const values = new Float32Array(count);
    for (let index = 0; index < count; index++) values[index] = view.getFloat32(4 * index, true);
    return values;
  }

  // ---------------------------------------------------------------------------------------------
  // The forward pass

  // A network loaded from network_payload's JSON. run(image) reads one image row by row; every buffer
  // it writes is allocated here, once, so a run allocates nothing (it runs on every pen stroke).
  class Network {
    constructor(cell, units, arrays) {
      this.cell = cell;
      this.units = units;
      this.width = GATES[cell] * units;
      this.kernel = arrays.kernel;  // (28, width): input row -> every gate
      this.recurrentKernel = arrays.recurrent_kernel;  // (units, width)
      // Keras's GRU (reset_after) has two biases, one for the input and one for the recurrent product.
      this.bias = cell === "gru" ? arrays.bias.subarray(0, this.width) : arrays.bias;  // (width,)
      this.recurrentBias = cell === "gru" ? arrays.bias.subarray(this.width) : null;  // (width,)
      this.readoutKernel = arrays.readout_kernel;  // (units, 10)
      this.readoutBias = arrays.readout_bias;  // (10,)
      this.inputTerms = new Float64Array(this.width);  // x_t W + b, then (RNN, LSTM) + h_{t-1} U
      this.recurrentTerms = new Float64Array(this.width);  // GRU: h_{t-1} U + b_h
      this.trace = {
        hidden: new Float64Array(IMAGE_SIZE * units),  // (28, units): h_t after row t at [t - 1]
        memory: cell === "lstm" ? new Float64Array(IMAGE_SIZE * units) : null,  // LSTM: c_t, else null
        logits: new Float64Array(IMAGE_SIZE * CLASSES),  // (28, 10): the readout of h_t after each row
        probabilities: new Float64Array(IMAGE_SIZE * CLASSES),  // (28, 10): their softmax
        prediction: -1,  // the class most probable after row 28
      };
    }

    // Read image (784 values in [0, 1], row-major, any array-like) row by row. Returns this.trace,
    // whose arrays are overwritten by the next run: copy what must be kept.
    run(image) {
      if (image === null || typeof image !== "object" || image.length !== PIXELS) {
        throw new NetworkError(`the image must hold ${PIXELS} values (28 x 28, row-major), got ` +
          `${image === null || typeof image !== "object" ? typeof image : image.length}`);
      }
      const {units, trace} = this;
      for (let row = 0; row < IMAGE_SIZE; row++) {
        this.addInputTerms(image, row);
        this.addRecurrentTerms(row - 1);
        const current = row * units;
        if (this.cell === "rnn") this.rnnStep(current);
        else if (this.cell === "lstm") this.lstmStep(current);
        else this.gruStep(current);
        this.readout(row);
      }
      const last = (IMAGE_SIZE - 1) * CLASSES;
      let best = 0;
      for (let k = 1; k < CLASSES; k++) if (trace.probabilities[last + k] > trace.probabilities[last + best]) best = k;
      trace.prediction = best;
      return trace;
    }

    // inputTerms = x_t W + b; a digit's rows are mostly 0, and those pixels are skipped.
    addInputTerms(image, row) {
      const {width, kernel, inputTerms} = this;
      inputTerms.set(this.bias);
      for (let pixel = 0; pixel < IMAGE_SIZE; pixel++) {
        const value = +image[row * IMAGE_SIZE + pixel];
        if (value === 0) continue;
        const offset = pixel * width;
        for (let k = 0; k < width; k++) inputTerms[k] += value * kernel[offset + k];
      }
    }

    // h_{t-1} U, added to inputTerms (RNN, LSTM) or, with the GRU's recurrent bias, into recurrentTerms;
    // h_0 is 0, so before row 1 (previousRow -1) only the GRU's bias is there.
    addRecurrentTerms(previousRow) {
      const {units, width, recurrentKernel} = this;
      const hidden = this.trace.hidden;
      let target = this.inputTerms;
      if (this.cell === "gru") {
        target = this.recurrentTerms;
        target.set(this.recurrentBias);
      }
      if (previousRow < 0) return;
      const previous = previousRow * units;
      // Four rows of U per sweep over the target: a quarter of the loads and stores of one row at a
      // time, which is what bounds this loop (most of the pass's time).
      const blocks = units - (units % 4);
      for (let j = 0; j < blocks; j += 4) {
        const h0 = hidden[previous + j], h1 = hidden[previous + j + 1];
        const h2 = hidden[previous + j + 2], h3 = hidden[previous + j + 3];
        const o0 = j * width, o1 = o0 + width, o2 = o1 + width, o3 = o2 + width;
        for (let k = 0; k < width; k++) {
          target[k] += h0 * recurrentKernel[o0 + k] + h1 * recurrentKernel[o1 + k] +
            h2 * recurrentKernel[o2 + k] + h3 * recurrentKernel[o3 + k];
        }
      }
      for (let j = blocks; j < units; j++) {
        const value = hidden[previous + j], offset = j * width;
        for (let k = 0; k < width; k++) target[k] += value * recurrentKernel[offset + k];
      }
    }

    rnnStep(current) {
      const {units, inputTerms} = this;
      const hidden = this.trace.hidden;
      for (let k = 0; k < units; k++) hidden[current + k] = Math.tanh(inputTerms[k]);
    }

    // Keras's gate order i, f, c, o: c_t = f c_{t-1} + i tanh(.), h_t = o tanh(c_t).
    lstmStep(current) {
      const {units, inputTerms: terms} = this;
      const {hidden, memory} = this.trace;
      const previous = current - units;
      for (let k = 0; k < units; k++) {
        const inputGate = sigmoid(terms[k]);
        const forgetGate = sigmoid(terms[units + k]);
        const candidate = Math.tanh(terms[2 * units + k]);
        const outputGate = sigmoid(terms[3 * units + k]);
        const before = previous < 0 ? 0 : memory[previous + k];
        const cell = forgetGate * before + inputGate * candidate;
        memory[current + k] = cell;
        hidden[current + k] = outputGate * Math.tanh(cell);
      }
    }

    // Keras's gate order z, r, h with reset_after: the reset gate multiplies h_{t-1} U_h + b_h.
    gruStep(current) {
      const {units, inputTerms, recurrentTerms} = this;
      const hidden = this.trace.hidden;
      const previous = current - units;
      for (let k = 0; k < units; k++) {
        const before = previous < 0 ? 0 : hidden[previous + k];
        const update = sigmoid(inputTerms[k] + recurrentTerms[k]);
        const reset = sigmoid(inputTerms[units + k] + recurrentTerms[units + k]);
        const candidate = Math.tanh(inputTerms[2 * units + k] + reset * recurrentTerms[2 * units + k]);
        hidden[current + k] = update * before + (1 - update) * candidate;
      }
    }

    // logits_t = h_t V + b_v and their softmax, as core.inspect.forward.trace_states and core.nn.weights.softmax.
    readout(row) {
      const {units, readoutKernel, readoutBias} = this;
      const {hidden, logits, probabilities} = this.trace;
      const state = row * units, out = row * CLASSES;
      for (let c = 0; c < CLASSES; c++) {
        let sum = 0;
        for (let j = 0; j < units; j++) sum += hidden[state + j] * readoutKernel[j * CLASSES + c];
        logits[out + c] = sum + readoutBias[c];
      }
      let largest = -Infinity;
      for (let c = 0; c < CLASSES; c++) largest = Math.max(largest, logits[out + c]);
      let total = 0;
      for (let c = 0; c < CLASSES; c++) total += Math.exp(logits[out + c] - largest);
      const logTotal = Math.log(total);
      for (let c = 0; c < CLASSES; c++) probabilities[out + c] = Math.exp(logits[out + c] - largest - logTotal);
    }
  }

  function sigmoid(value) {
    return 1 / (1 + Math.exp(-value));
  }

  // The shapes a cell of `units` needs, as core.nn.weights.NetworkWeights checks them.
  function expectedShapes(cell, units) {
    const width = GATES[cell] * units;
    return {
      kernel: [IMAGE_SIZE, width],
      recurrent_kernel: [units, width],
      bias: cell === "gru" ? [2, width] : [width],
      readout_kernel: [units, CLASSES],
      readout_bias: [CLASSES],
    };
  }

  // network_payload's JSON (or its text) -> a Network; NetworkError says what does not fit.
  function loadNetwork(payload) {
    if (typeof payload === "string") {
      try {
        payload = JSON.parse(payload);
      } catch (error) {
        throw new NetworkError("network payload: not valid JSON");
      }
    }
    if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
      throw new NetworkError("network payload: expected an object made by network_payload");
    }
    if (payload.format !== PAYLOAD_FORMAT || payload.version !== PAYLOAD_VERSION) {
      throw new NetworkError(`network payload: format ${JSON.stringify(payload.format)} version ` +
        `${JSON.stringify(payload.version)} is not readable; expected "${PAYLOAD_FORMAT}" version ${PAYLOAD_VERSION}`);
    }
    const {cell, units} = payload;
    if (!CELLS.includes(cell)) {
      throw new NetworkError(`network payload: cell ${JSON.stringify(cell)} is not known; allowed: ${CELLS.join(", ")}`);
    }
    if (!Number.isInteger(units) || units < 1) {
      throw new NetworkError(`network payload: units ${JSON.stringify(units)} must be a whole number of at least 1`);
    }
    const arrays = {};
    for (const [name, expected] of Object.entries(expectedShapes(cell, units))) {
      const entry = payload.arrays && payload.arrays[name];
      if (!entry || !Array.isArray(entry.shape)) {
        throw new NetworkError(`${cell} weights: ${name} is missing (expected shape ${formatShape(expected)})`);
      }
      if (entry.shape.length !== expected.length || entry.shape.some((size, axis) => size !== expected[axis])) {
        throw new NetworkError(`${cell} weights: ${name} has shape ${formatShape(entry.shape)}; ` +
          `expected ${formatShape(expected)}`);
      }
      const count = expected.reduce((product, size) => product * size, 1);
      arrays[name] = decodeFloat32(entry.data, count, `${cell} weights: ${name}`);
    }
    return new Network(cell, units, arrays);
  }

  // ---------------------------------------------------------------------------------------------
  // MNIST's preparation of a drawing (core/inspect/own_digit.py mnist_steps)

  // numpy's sum of a float64 array (pairwise summation, 8 accumulators on blocks of up to 128 values),
  // bit for bit: values[start .. start + count).
  function pairwiseSum(values, start, count) {
    if (count < 8) {
      let sum = 0;
      for (let index = start; index < start + count; index++) sum += values[index];
      return sum;
    }
    if (count <= 128) {
      let r0 = values[start], r1 = values[start + 1], r2 = values[start + 2], r3 = values[start + 3];
      let r4 = values[start + 4], r5 = values[start + 5], r6 = values[start + 6], r7 = values[start + 7];
      let index = start + 8;
      const blocksEnd = start + count - (count % 8);
      for (; index < blocksEnd; index += 8) {
        r0 += values[index]; r1 += values[index + 1]; r2 += values[index + 2]; r3 += values[index + 3];
        r4 += values[index + 4]; r5 += values[index + 5]; r6 += values[index + 6]; r7 += values[index + 7];
      }
      let sum = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
      for (; index < start + count; index++) sum += values[index];
      return sum;
    }
    let half = Math.floor(count / 2);
    half -= half % 8;
    return pairwiseSum(values, start, half) + pairwiseSum(values, start + half, count - half);
  }

  // Python's round(): halves go to the even neighbour (round(12.5) == 12), unlike Math.round.
  function roundHalfEven(value) {
    const floor = Math.floor(value);
    const fraction = value - floor;
    if (fraction > 0.5) return floor + 1;
    if (fraction < 0.5) return floor;
    return floor % 2 === 0 ? floor : floor + 1;
  }

  // Pillow's resampling coefficients (libImaging/Resample.c precompute_coeffs) for the bilinear
  // (triangle) filter: when shrinking, the filter is widened by the factor, so every source pixel
  // counts (anti-aliasing); each output pixel's weights are normalised to sum to 1.
  function resampleCoefficients(inSize, outSize) {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = filterScale;  // the triangle's support (1) times the scale
    const size = Math.ceil(support) * 2 + 1;
    const weights = new Float64Array(outSize * size);
    const starts = new Int32Array(outSize), counts = new Int32Array(outSize);
    for (let out = 0; out < outSize; out++) {
      const centre = (out + 0.5) * scale;
      // C's (int) cast truncates towards zero.
      const start = Math.max(0, Math.trunc(centre - support + 0.5));
      const count = Math.min(inSize, Math.trunc(centre + support + 0.5)) - start;
      let total = 0;
      for (let x = 0; x < count; x++) {
        const distance = Math.abs((x + start - centre + 0.5) / filterScale);
        const weight = distance < 1 ? 1 - distance : 0;
        weights[out * size + x] = weight;
        total += weight;
      }
      if (total !== 0) for (let x = 0; x < count; x++) weights[out * size + x] /= total;
      starts[out] = start;
      counts[out] = count;
    }
    return {weights, starts, counts, size};
  }

  // One pass of Pillow's resampling along one axis of a float32 image (height, width) whose `along`
  // side ("width" or "height") becomes newSize: every output sums its source pixels in double and is
  // stored as float32, as Pillow's "F" images are.
  function resamplePass(image, height, width, along, newSize) {
    const horizontal = along === "width";
    const [size, lines] = horizontal ? [width, height] : [height, width];
    const {weights, starts, counts, size: stride} = resampleCoefficients(size, newSize);
    // Steps between neighbours along the axis and between lines, in the source and in the output.
    const [step, lineStep, outStep, outLineStep] = horizontal ? [1, width, 1, newSize] : [width, 1, width, 1];
    const out = new Float32Array(lines * newSize);
    for (let line = 0; line < lines; line++) {
      for (let position = 0; position < newSize; position++) {
        let sum = 0;
        const first = line * lineStep + starts[position] * step;
        for (let k = 0; k < counts[position]; k++) sum += image[first + k * step] * weights[position * stride + k];
        out[line * outLineStep + position * outStep] = sum;
      }
    }
    return out;
  }

  // Pillow's Image.resize(BILINEAR) of a float ("F") image: the horizontal pass, then the vertical
  // one; a side that keeps its length is not resampled.
  function resizeBilinear(source, height, width, newHeight, newWidth) {
    let image = source;
    if (newWidth !== width) image = resamplePass(image, height, width, "width", newWidth);
    if (newHeight !== height) image = resamplePass(image, height, newWidth, "height", newHeight);
    return image === source ? Float32Array.from(source) : image;
  }

  // A drawing as RGBA bytes (a canvas's getImageData().data, width x height, any size) -> the network's
  // input made MNIST's way: {image: Float32Array(784) in [0, 1], inverted: was it dark ink on light
  // paper, error: null}, or {image: null, inverted: null, error: the message core's ValueError gives}
  // when there is no digit to read (a blank canvas is an ordinary moment of drawing, not an exception).
  function prepareDrawing(rgba, width, height) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
      throw new NetworkError(`width ${width} and height ${height} must be whole numbers of at least 0`);
    }
    if (rgba === null || typeof rgba !== "object" || rgba.length !== width * height * 4) {
      throw new NetworkError(`the pixels must hold width x height x 4 = ${width * height * 4} RGBA bytes, got ` +
        `${rgba === null || typeof rgba !== "object" ? typeof rgba : rgba.length}`);
    }
    if (width < 1 || height < 1) return failure(`the picture has no pixels (shape (${height}, ${width}))`);

    // Grayscale with ITU-R 601 luma (Pillow's convert("L") weights); transparent means white paper.
    const ink = new Float64Array(width * height);
    for (let index = 0; index < ink.length; index++) {
      const red = rgba[4 * index] / 255, green = rgba[4 * index + 1] / 255, blue = rgba[4 * index + 2] / 255;
      const alpha = rgba[4 * index + 3] / 255;
      ink[index] = (red * 0.299 + green * 0.587 + blue * 0.114) * alpha + 1.0 * (1.0 - alpha);
    }

    // The paper is whatever the border mostly is (its median); light paper means dark ink: invert.
    const border = new Float64Array(2 * (width + height));
    for (let x = 0; x < width; x++) {
      border[x] = ink[x];
      border[width + x] = ink[(height - 1) * width + x];
    }
    for (let y = 0; y < height; y++) {
      border[2 * width + y] = ink[y * width];
      border[2 * width + height + y] = ink[y * width + width - 1];
    }
    border.sort();
    const middle = border.length >> 1;
    const paper = border.length % 2 ? border[middle] : (border[middle - 1] + border[middle]) / 2;
    const inverted = paper > 0.5;
    const paperLevel = inverted ? 1.0 - paper : paper;
    let strongest = -Infinity;
    for (let index = 0; index < ink.length; index++) {
      if (inverted) ink[index] = 1.0 - ink[index];
      strongest = Math.max(strongest, ink[index]);
    }
    if (strongest - paperLevel < MIN_CONTRAST) return failure(BLANK_MESSAGE);

    // Ink from 0 (paper) to 1 (the strongest), paper texture below NOISE_LEVEL dropped; its bounding box.
    let top = height, bottom = -1, left = width, right = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const index = y * width + x;
        let value = Math.min(Math.max((ink[index] - paperLevel) / (strongest - paperLevel), 0.0), 1.0);
        if (value < NOISE_LEVEL) value = 0.0;
        ink[index] = value;
        if (value > 0) {
          top = Math.min(top, y);
          bottom = Math.max(bottom, y);
          left = Math.min(left, x);
          right = Math.max(right, x);
        }
      }
    }
    const cropHeight = bottom - top + 1, cropWidth = right - left + 1;
    const cropped = new Float32Array(cropHeight * cropWidth);  // float32, as Pillow's "F" image
    for (let y = 0; y < cropHeight; y++) {
      for (let x = 0; x < cropWidth; x++) cropped[y * cropWidth + x] = ink[(top + y) * width + left + x];
    }

    // The longer side to DIGIT_BOX pixels, keeping the aspect ratio; then the brightest pixel to 1.
    const scale = DIGIT_BOX / Math.max(cropHeight, cropWidth);
    const newHeight = Math.max(1, roundHalfEven(cropHeight * scale));
    const newWidth = Math.max(1, roundHalfEven(cropWidth * scale));
    const resized = resizeBilinear(cropped, cropHeight, cropWidth, newHeight, newWidth);
    const scaled = new Float64Array(resized.length);
    let brightest = 0;
    for (let index = 0; index < scaled.length; index++) {
      scaled[index] = Math.min(Math.max(resized[index], 0.0), 1.0);
      brightest = Math.max(brightest, scaled[index]);
    }
    if (!(brightest > 0)) return failure(VANISHED_MESSAGE);
    for (let index = 0; index < scaled.length; index++) scaled[index] /= brightest;

    // Whole-pixel shift putting the centre of mass on pixel (14, 14). As in core, the digit sits in a
    // margin of IMAGE_SIZE pixels first (so nothing of a lopsided digit is cut), and the moments are
    // numpy's sums over that whole field, in numpy's order: a digit whose centre falls exactly between
    // two pixels is then shifted the same way (Python's round() breaks the tie).
    const margin = IMAGE_SIZE;
    const fieldHeight = newHeight + 2 * margin, fieldWidth = newWidth + 2 * margin;
    const field = new Float64Array(fieldHeight * fieldWidth);
    const rowWeighted = new Float64Array(field.length), columnWeighted = new Float64Array(field.length);
    for (let y = 0; y < newHeight; y++) {
      for (let x = 0; x < newWidth; x++) {
        const index = (y + margin) * fieldWidth + x + margin;
        field[index] = scaled[y * newWidth + x];
        rowWeighted[index] = (y + margin) * field[index];
        columnWeighted[index] = (x + margin) * field[index];
      }
    }
    const total = pairwiseSum(field, 0, field.length);
    const shiftRow = roundHalfEven(pairwiseSum(rowWeighted, 0, field.length) / total - MNIST_CENTRE) - margin;
    const shiftColumn = roundHalfEven(pairwiseSum(columnWeighted, 0, field.length) / total - MNIST_CENTRE) - margin;
    const image = new Float32Array(PIXELS);
    for (let y = 0; y < IMAGE_SIZE; y++) {
      const sourceRow = y + shiftRow;
      if (sourceRow < 0 || sourceRow >= newHeight) continue;
      for (let x = 0; x < IMAGE_SIZE; x++) {
        const sourceColumn = x + shiftColumn;
        if (sourceColumn >= 0 && sourceColumn < newWidth) image[y * IMAGE_SIZE + x] = scaled[sourceRow * newWidth + sourceColumn];
      }
    }
    return {image, inverted, error: null};
  }

  function failure(message) {
    return {image: null, inverted: null, error: message};
  }

  globalThis.RnnNetwork = Object.freeze({
    IMAGE_SIZE, CLASSES, CELLS, PAYLOAD_FORMAT, PAYLOAD_VERSION, NetworkError, loadNetwork, prepareDrawing,
  });
})();

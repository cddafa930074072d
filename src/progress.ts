// Progress for long work: one line rewritten in place on a terminal, plain lines elsewhere
// (CI logs, pipes) at most every few seconds, so logs stay readable.

export interface Progress {
  (message: string): void;
  done(message: string): void;
}

export function progressLine(log: (line: string) => void, stream: NodeJS.WriteStream = process.stdout): Progress {
  const interactive = stream.isTTY === true;
  let lastPrinted = 0;
  const update = (message: string) => {
    if (interactive) {
      stream.write(`\r\x1b[2K${message}`);
    } else if (Date.now() - lastPrinted > 5_000) {
      lastPrinted = Date.now();
      log(message);
    }
  };
  update.done = (message: string) => {
    if (interactive) stream.write('\r\x1b[2K');
    log(message);
  };
  return update;
}

/** Stream entry ids (`<ms>-<seq>`, as Redis generates them), compared as the server orders them. */
export interface StreamId {
  readonly ms: number
  readonly seq: number
}

/** The id in `text`, or undefined when it is not one (`<ms>` alone means `<ms>-0`). */
export const parse = (text: string): StreamId | undefined => {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text)
  return match === null ? undefined : { ms: Number(match[1]), seq: Number(match[2] ?? 0) }
}

export const isAfter = (a: StreamId, b: StreamId): boolean => a.ms > b.ms || (a.ms === b.ms && a.seq > b.seq)

/**
 * True when a reader at `position` can never read the stream's next entry: it is beyond the last
 * id the stream generated (the stream was deleted, or Redis lost it, after a far-future id).
 * Ids that do not parse are beyond everything: no entry would ever follow them either.
 */
export const isBeyond = (position: string, lastGenerated: string): boolean => {
  const at = parse(position)
  const last = parse(lastGenerated)
  return at === undefined || (last !== undefined && isAfter(at, last))
}

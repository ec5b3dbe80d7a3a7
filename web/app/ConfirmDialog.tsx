/** A modal question (the native <dialog>: focus kept inside, Esc cancels) with a confirm and a cancel button. */
import { useEffect, useId, useRef } from "react"

export const ConfirmDialog = (props: {
  readonly title: string
  readonly body: string
  readonly confirm: string
  readonly accept: () => void
  readonly cancel: () => void
}) => {
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  const bodyId = useId()
  useEffect(() => {
    const dialog = ref.current
    if (dialog !== null && !dialog.open) dialog.showModal()
  }, [])
  return (
    <dialog
      ref={ref}
      role="alertdialog"
      aria-labelledby={titleId}
      aria-describedby={bodyId}
      onCancel={(event) => {
        event.preventDefault()
        props.cancel()
      }}
    >
      <h2 id={titleId}>{props.title}</h2>
      <p id={bodyId}>{props.body}</p>
      <div className="actions">
        <button type="button" onClick={props.cancel} autoFocus>Cancel</button>
        <button type="button" className="danger" onClick={props.accept}>{props.confirm}</button>
      </div>
    </dialog>
  )
}

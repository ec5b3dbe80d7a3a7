/** The placeholder page: says whether this browser is signed in (one API call with the cookie) and signs out. */
import { post } from "./api.js"

const status = document.getElementById("status")!
const signIn = document.getElementById("sign-in")!
const signOut = document.getElementById("sign-out") as HTMLButtonElement

const check = async () => {
  const response = await fetch("/v1/sessions", { credentials: "same-origin" }).catch(() => undefined)
  if (response === undefined) {
    status.textContent = "The daemon cannot be reached; is it running?"
    return
  }
  const signedIn = response.ok
  if (signedIn) {
    const sessions = (await response.json()) as ReadonlyArray<unknown>
    status.textContent = `Signed in: ${sessions.length} open session${sessions.length === 1 ? "" : "s"}.`
  } else status.textContent = "Not signed in."
  signIn.hidden = signedIn
  signOut.hidden = !signedIn
}

signOut.addEventListener("click", () => {
  void post("/v1/web/sign-out").then(check)
})

void check()

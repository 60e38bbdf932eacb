import { SafeText } from "./SafeText";

type Props = {
  argv: string[] | null;
  script: string | null;
  cwd: string | null;
  env: string[];
};

/**
 * A command as `execve` gets it: one box per argument, numbered, so spaces, quotes and empty
 * arguments are unambiguous; or a script shown verbatim.
 */
export function CommandView({ argv, script, cwd, env }: Props) {
  return (
    <div className="command" data-testid="diff">
      {argv && (
        <section>
          <h4>Arguments ({argv.length}, run directly, no shell)</h4>
          <ol className="argv" start={0} data-pointer="/payload/argv">
            {argv.map((a, i) => (
              <li key={i} className="argv-item" data-testid="argv-item" data-pointer={`/payload/argv/${i}`}>
                <span className="argv-index">{i}</span>
                <code className={a === "" ? "argv-box argv-empty" : "argv-box"}>
                  <SafeText text={a} inline />
                </code>
              </li>
            ))}
          </ol>
        </section>
      )}
      {script !== null && (
        <section>
          <h4>Script (run by /bin/sh -c)</h4>
          <pre className="code-block" data-testid="script" data-pointer="/payload/script">
            <SafeText text={script} />
          </pre>
        </section>
      )}
      {!argv && script === null && <p className="note warn">Neither arguments nor a script were given.</p>}
      <dl className="kv">
        <dt>Working directory</dt>
        <dd data-pointer="/payload/cwd">{cwd === null ? <span className="muted">(the gate's directory)</span> : <code><SafeText text={cwd} inline /></code>}</dd>
        <dt>Environment</dt>
        <dd data-pointer="/payload/env">
          {env.length === 0 ? (
            <span className="muted">(no extra variables)</span>
          ) : (
            <ul className="env-list">
              {env.map((e, i) => (
                <li key={i}>
                  <code className="argv-box">
                    <SafeText text={e} inline />
                  </code>
                </li>
              ))}
            </ul>
          )}
        </dd>
      </dl>
    </div>
  );
}

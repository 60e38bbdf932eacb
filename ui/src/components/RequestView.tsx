import { SafeText } from "./SafeText";

type Props = { method: string; url: string; headers: string[]; body: string | null };

/** An HTTP request exactly as the gate will send it. */
export function RequestView({ method, url, headers, body }: Props) {
  return (
    <div className="request" data-testid="diff">
      <p className="request-line">
        <code className="method" data-pointer="/payload/method">
          <SafeText text={method} inline />
        </code>{" "}
        <code className="url" data-pointer="/payload/url">
          <SafeText text={url} inline />
        </code>
      </p>
      <h4>Headers</h4>
      {headers.length === 0 ? (
        <p className="muted">(none)</p>
      ) : (
        <ul className="header-list" data-pointer="/payload/headers">
          {headers.map((h, i) => (
            <li key={i}>
              <code>
                <SafeText text={h} inline />
              </code>
            </li>
          ))}
        </ul>
      )}
      <h4>Body</h4>
      {body === null ? (
        <p className="muted">(no body)</p>
      ) : (
        <pre className="code-block" data-pointer="/payload/body">
          <SafeText text={body} />
        </pre>
      )}
    </div>
  );
}

using System.Security.Cryptography;
using System.Text;

namespace DJJobNet.Facebook;

/// <summary>The permission step (the seed's permission.php): send the user to Facebook's OAuth dialog and get a token back.</summary>
public static class FacebookHelper
{
    /// <summary>The permissions the Calendar job needs.</summary>
    public const string CalendarScopes = "create_event,rsvp_event";

    /// <summary>A fresh unguessable <c>state</c> value; keep it (in the user's session or a cookie) and check it on return.</summary>
    public static string NewState() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>True when the <c>state</c> that came back is the one sent (compared in constant time); false when either is missing.</summary>
    public static bool IsStateValid(string? expected, string? returned) =>
        !string.IsNullOrEmpty(expected) && !string.IsNullOrEmpty(returned)
        && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(returned));

    /// <summary>The OAuth dialog address that asks the user for <paramref name="scopes"/> and comes back to <paramref name="redirectUri"/>.</summary>
    public static Uri GetLoginUrl(string redirectUri, string state, string scopes = CalendarScopes)
    {
        var options = FacebookGraph.Options;
        var appId = options.AppId ?? throw new InvalidOperationException("FacebookOptions.AppId is not set.");
        var query = $"client_id={Uri.EscapeDataString(appId)}&redirect_uri={Uri.EscapeDataString(redirectUri)}" +
                    $"&state={Uri.EscapeDataString(state)}&scope={Uri.EscapeDataString(scopes)}&response_type=code";
        return new Uri(FacebookGraph.Endpoint(options.DialogUrl, "dialog/oauth") + "?" + query);
    }

    /// <summary>Exchanges the <c>code</c> the dialog returned for the user's access token.</summary>
    /// <exception cref="FacebookGraphException">Graph refused the code.</exception>
    public static async Task<string> ExchangeCodeAsync(string code, string redirectUri, CancellationToken cancellationToken = default)
    {
        var options = FacebookGraph.Options;
        var appId = options.AppId ?? throw new InvalidOperationException("FacebookOptions.AppId is not set.");
        var secret = options.AppSecret ?? throw new InvalidOperationException("FacebookOptions.AppSecret is not set.");
        var query = $"client_id={Uri.EscapeDataString(appId)}&redirect_uri={Uri.EscapeDataString(redirectUri)}" +
                    $"&client_secret={Uri.EscapeDataString(secret)}&code={Uri.EscapeDataString(code)}";
        using var response = await FacebookGraph.Http.GetAsync(new Uri(FacebookGraph.Endpoint(options.GraphUrl, "oauth/access_token") + "?" + query), cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var json = FacebookGraph.Read(response, body);
        return (string?)json["access_token"] ?? throw new InvalidOperationException("Graph sent no access_token.");
    }
}

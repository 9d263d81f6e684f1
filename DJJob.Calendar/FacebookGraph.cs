using System.Net;
using System.Security.Cryptography;
using System.Text;
using Newtonsoft.Json.Linq;

namespace DJJobNet.Facebook;

/// <summary>The Graph API settings of this process (the worker's and the web application's).</summary>
public static class FacebookGraph
{
    private sealed record State(FacebookOptions Options, HttpClient Http);

    private static State _state = Create(new FacebookOptions());

    /// <summary>Sets where Graph is and the application's credentials.</summary>
    public static void Configure(FacebookOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Volatile.Write(ref _state, Create(options));
    }

    internal static FacebookOptions Options => Volatile.Read(ref _state).Options;

    internal static HttpClient Http => Volatile.Read(ref _state).Http;

    internal static Uri Endpoint(Uri baseUrl, string path) => new(baseUrl, $"{Options.ApiVersion}/{path}");

    /// <summary>HMAC-SHA256 of the access token keyed with the app secret, in lower-case hex, as Graph expects.</summary>
    internal static string AppSecretProof(string accessToken, string appSecret) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(appSecret), Encoding.UTF8.GetBytes(accessToken)));

    /// <summary>Reads a Graph answer: the JSON body of a success, or a <see cref="FacebookGraphException"/> for an error.</summary>
    internal static JObject Read(HttpResponseMessage response, string body)
    {
        JObject? json = null;
        try
        {
            json = JObject.Parse(body);
        }
        catch (Newtonsoft.Json.JsonException)
        {
            // A proxy's HTML error page, say: reported below with the HTTP status.
        }
        if (response.IsSuccessStatusCode && json is not null && json["error"] is null) return json;

        var error = json?["error"] as JObject;
        throw new FacebookGraphException(
            (int)response.StatusCode,
            (string?)error?["message"] ?? $"HTTP {(int)response.StatusCode} {response.ReasonPhrase} with no Graph error in the body: {Shorten(body)}",
            (string?)error?["type"],
            (int?)error?["code"],
            (int?)error?["error_subcode"],
            (string?)error?["fbtrace_id"]);
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "...";

    private static State Create(FacebookOptions options) =>
        new(options, new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.All }) { Timeout = options.Timeout });
}

namespace DJJobNet.Facebook;

/// <summary>An error answer from the Graph API, with the fields of its <c>error</c> object.</summary>
public sealed class FacebookGraphException : Exception
{
    /// <summary>Creates the exception from the fields of Graph's error answer.</summary>
    public FacebookGraphException(int httpStatus, string graphMessage, string? type, int? code, int? errorSubcode, string? fbTraceId)
        : base($"Facebook Graph error {code?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"}" +
               (errorSubcode is null ? "" : $"/{errorSubcode}") +
               $": {graphMessage} (type {type ?? "?"}, HTTP {httpStatus}, fbtrace_id {fbTraceId ?? "?"})")
    {
        HttpStatus = httpStatus;
        GraphMessage = graphMessage;
        Type = type;
        Code = code;
        ErrorSubcode = errorSubcode;
        FbTraceId = fbTraceId;
    }

    /// <summary>The HTTP status of the answer.</summary>
    public int HttpStatus { get; }

    /// <summary>Graph's <c>message</c>.</summary>
    public string GraphMessage { get; }

    /// <summary>Graph's <c>type</c>, for example <c>OAuthException</c>.</summary>
    public string? Type { get; }

    /// <summary>Graph's <c>code</c>.</summary>
    public int? Code { get; }

    /// <summary>Graph's <c>error_subcode</c>.</summary>
    public int? ErrorSubcode { get; }

    /// <summary>Graph's <c>fbtrace_id</c>, for Facebook's support.</summary>
    public string? FbTraceId { get; }

    /// <summary>
    /// True when trying again cannot help: an invalid or expired token (190), a missing permission (10, 200-299), an
    /// invalid parameter (100), or a deprecated call (12, what Graph answers today for creating events). Rate limits
    /// (4, 17, 32, 613, HTTP 429), server errors and unknown codes are worth a retry.
    /// </summary>
    public bool IsPermanent => HttpStatus != 429 && Code is 190 or 10 or (>= 200 and <= 299) or 100 or 12;
}

